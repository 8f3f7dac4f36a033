// Package resourcefilter evaluates a Receiver's CEL resource filters
// (spec.resourceFilter and spec.resources[].filter, behaviour reference
// §5.5) in two places. The receiver knows the webhook body (req) and the
// token's claims but not the objects; the forwarder knows the objects (res)
// but not the call. So the receiver evaluates a filter with res unknown:
// what depends on req and claims is decided there, and what is left, the
// residual, travels with the reconcile request to the forwarder, which
// evaluates it against each object's metadata.
//
// The package depends on cel-go alone, so that the forwarder can use it
// without the rest of Herald.
package resourcefilter

import (
	"context"
	"fmt"

	"cel.dev/cel-go/cel"

	"github.com/heraldhq/herald/pkg/fluxcel"
)

// Names of the filter's variables.
const (
	varRes    = "res"
	varReq    = "req"
	varClaims = "claims"
)

// newEnv is the environment Flux compiles a filter in: res and req, and
// claims for generic-oidc Receivers only, so that claims elsewhere is a
// compile error.
func newEnv(withClaims bool) (*cel.Env, error) {
	vars := []string{varRes, varReq}
	if withClaims {
		vars = append(vars, varClaims)
	}
	// Macro calls are kept so that a residual can be written back as the
	// user wrote it (exists(...), not its expansion); they change nothing
	// else.
	return fluxcel.NewEnv(vars, cel.EnableMacroCallTracking())
}

// Filter is a compiled resource filter. It is safe for concurrent use.
type Filter struct {
	src        string
	env        *cel.Env
	ast        *cel.Ast
	withClaims bool
	// partial evaluates with res unknown, tracking the value of every
	// node, which the residual is built from.
	partial cel.Program
}

// Compile compiles src as Flux's receiver does: a boolean expression over
// res, req and, with withClaims (generic-oidc), claims. Its errors are
// Flux's texts.
func Compile(src string, withClaims bool) (*Filter, error) {
	env, err := newEnv(withClaims)
	if err != nil {
		return nil, err
	}
	ast, err := fluxcel.Compile(env, src, cel.BoolType)
	if err != nil {
		return nil, err
	}
	prog, err := fluxcel.Program(env, ast, cel.OptPartialEval, cel.OptTrackState)
	if err != nil {
		return nil, err
	}
	return &Filter{src: src, env: env, ast: ast, withClaims: withClaims, partial: prog}, nil
}

// Check reports whether src compiles, with Flux's message if not; it is
// what Flux's controller checks before it marks a Receiver ready.
func Check(src string, withClaims bool) error {
	_, err := Compile(src, withClaims)
	return err
}

// String returns the filter's source.
func (f *Filter) String() string { return f.src }

// evalError is Flux's wording for a filter that failed to evaluate.
func evalError(src string, err error) error {
	return fmt.Errorf("failed to evaluate the CEL expression '%s': %w", src, err)
}

// notBoolean is Flux's wording for a filter whose value is not a boolean.
func notBoolean(src string) error {
	return fmt.Errorf("failed to evaluate CEL expression as boolean: '%s'", src)
}

// contextDone reports a cancelled evaluation; cel-go returns it as a
// plain error.
func contextDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}
