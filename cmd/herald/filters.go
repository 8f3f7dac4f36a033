package main

import (
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
)

// checkReceiverFilters adds to res the Receivers' CEL filters that do not
// compile, as Flux's controller refuses them (InvalidCELExpression). It
// lives apart from api.Validate so that package api does not need CEL.
func checkReceiverFilters(cfg *api.Config, res *api.Result) {
	for i := range cfg.Receivers {
		res.Errors = append(res.Errors, receiver.CheckFilters(&cfg.Receivers[i])...)
	}
}
