package main

import (
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
)

// checkReceiverCEL adds to res every Receiver CEL expression that does not
// compile (the resource filters and the oidcProviders' variables and
// validations), as Flux's reconciler refuses them (InvalidCELExpression), so
// that they fail validation instead of every webhook call. It lives apart
// from api.Validate so that package api does not need cel-go. Each error
// names file, document, object and field.
func checkReceiverCEL(cfg *api.Config, res *api.Result) {
	for i := range cfg.Receivers {
		r := &cfg.Receivers[i]
		res.Errors = append(res.Errors, receiver.CheckFilters(r)...)
		for _, e := range receiver.CheckOIDC(&r.Spec) {
			e.File, e.Index, e.Ref = r.Source.File, r.Source.Index, api.Ref(api.KindReceiver, r.Metadata)
			res.Errors = append(res.Errors, e)
		}
	}
}
