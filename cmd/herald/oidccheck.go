package main

import (
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
)

// oidcExpressionErrors compiles the CEL of every Receiver's oidcProviders,
// which api.Validate cannot do without cel-go, so that an expression Flux's
// reconciler would reject (InvalidCELExpression) fails validation instead
// of every webhook call. Each error names file, document, object and field.
func oidcExpressionErrors(cfg *api.Config) []error {
	var errs []error
	for _, r := range cfg.Receivers {
		for _, e := range receiver.CheckOIDC(&r.Spec) {
			e.File, e.Index, e.Ref = r.Source.File, r.Source.Index, api.Ref(api.KindReceiver, r.Metadata)
			errs = append(errs, e)
		}
	}
	return errs
}
