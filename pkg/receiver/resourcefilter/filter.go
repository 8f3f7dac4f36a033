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
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/ext"
)

// Names of the filter's variables.
const (
	varRes    = "res"
	varReq    = "req"
	varClaims = "claims"
)

// envOptions are the options of Flux's CEL expressions
// (fluxcd/pkg/runtime/cel.NewExpression), so that an expression means the
// same in Herald as in Flux.
func envOptions() []cel.EnvOption {
	return []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	}
}

// structVar declares a variable as Flux's WithStructVariables does.
func structVar(name string) cel.EnvOption {
	return cel.Variable(name, cel.ObjectType("google.protobuf.Struct"))
}

// newEnv is the environment Flux compiles a filter in: res and req, and
// claims for generic-oidc Receivers only, so that claims elsewhere is a
// compile error.
func newEnv(withClaims bool) (*cel.Env, error) {
	// Macro calls are kept so that a residual can be written back as the
	// user wrote it (exists(...), not its expansion); they change nothing
	// else.
	opts := append(envOptions(), cel.EnableMacroCallTracking(), structVar(varRes), structVar(varReq))
	if withClaims {
		opts = append(opts, structVar(varClaims))
	}
	env, err := cel.NewEnv(opts...)
	if err != nil {
		return nil, fmt.Errorf("failed to create CEL environment: %w", err)
	}
	return env, nil
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
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("failed to parse the CEL expression '%s': %s", src, iss.String())
	}
	if got := ast.OutputType(); !got.IsExactType(types.BoolType) {
		return nil, fmt.Errorf("CEL expression output type mismatch: expected %s, got %s", types.BoolType, got)
	}
	prog, err := env.Program(ast,
		cel.EvalOptions(cel.OptPartialEval, cel.OptTrackState),
		// Kubernetes' default, which Flux uses too: a long evaluation
		// checks its context every 100 iterations.
		cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("failed to create CEL program: %w", err)
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
