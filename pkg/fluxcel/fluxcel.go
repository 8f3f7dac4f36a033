// Package fluxcel is what Flux's CEL expressions share
// (fluxcd/pkg/runtime/cel): the environment's options and extensions,
// variables declared as its WithStructVariables declares them, compilation
// with its error texts, and programs planned as it plans them. Herald
// compiles three kinds of expression here, so that each means what it
// means in Flux: commitStatusExpr (pkg/notify/commitstatus/statusexpr),
// Receiver resource filters (pkg/receiver/resourcefilter) and generic-oidc
// claims rules (pkg/receiver).
package fluxcel

import (
	"fmt"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/ext"
)

// InterruptCheckFrequency is how many comprehension iterations run between
// two looks at the evaluation's context: Kubernetes' default, which Flux
// uses too, so that a cancelled request stops a long expression.
const InterruptCheckFrequency = 100

// NewEnv is Flux's environment with vars declared as
// google.protobuf.Struct (JSON objects), and extra options after Flux's.
func NewEnv(vars []string, extra ...cel.EnvOption) (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	}
	for _, v := range vars {
		opts = append(opts, cel.Variable(v, cel.ObjectType("google.protobuf.Struct")))
	}
	env, err := cel.NewEnv(append(opts, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("failed to create CEL environment: %w", err)
	}
	return env, nil
}

// Compile parses and checks src in env. When out is not nil, the
// expression must have that type. The errors are Flux's texts.
func Compile(env *cel.Env, src string, out *cel.Type) (*cel.Ast, error) {
	ast, issues := env.Compile(src)
	if issues != nil && issues.Err() != nil {
		return nil, fmt.Errorf("failed to parse the CEL expression '%s': %s", src, issues.String())
	}
	if got := ast.OutputType(); out != nil && !got.IsExactType(out) {
		return nil, fmt.Errorf("CEL expression output type mismatch: expected %s, got %s", out, got)
	}
	return ast, nil
}

// Program plans ast for evaluation with evalOpts (cel.OptOptimize when
// none), interruptible by its context.
func Program(env *cel.Env, ast *cel.Ast, evalOpts ...cel.EvalOption) (cel.Program, error) {
	if len(evalOpts) == 0 {
		evalOpts = []cel.EvalOption{cel.OptOptimize}
	}
	prog, err := env.Program(ast, cel.EvalOptions(evalOpts...), cel.InterruptCheckFrequency(InterruptCheckFrequency))
	if err != nil {
		return nil, fmt.Errorf("failed to create CEL program: %w", err)
	}
	return prog, nil
}
