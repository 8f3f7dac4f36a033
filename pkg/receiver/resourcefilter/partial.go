package resourcefilter

import (
	"context"
	"fmt"
	"maps"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/interpreter"
	"cel.dev/cel-go/parser"
)

// Decision is what a webhook call says of a filter for every object.
type Decision struct {
	// Residual is the part of the filter that depends on res, for the
	// forwarder to evaluate per object; "" when the call decided.
	Residual string
	// Match is the call's decision when Residual is "": true selects
	// every object, false none.
	Match bool
}

// Decide evaluates f with the call's body (req) and, for a filter compiled
// with claims, the token's claims, leaving res unknown.
//
// An error in a part of the filter that reads only req and claims is
// returned as Flux's evaluation error, even where, object by object, res
// might have made it irrelevant (res.x == 'a' || req.missing == 'b'):
// Flux answers 500 for such a call as soon as one object reaches the
// error, and Herald cannot wait to know. Sending the error on instead
// would turn a failed call into a reconcile that quietly does nothing.
func (f *Filter) Decide(ctx context.Context, req, claims map[string]any) (Decision, error) {
	vars := map[string]any{varReq: orEmpty(req)}
	if f.withClaims {
		vars[varClaims] = orEmpty(claims)
	}
	act, err := cel.PartialVars(vars, cel.AttributePattern(varRes))
	if err != nil {
		return Decision{}, evalError(f.src, err)
	}
	val, det, err := f.partial.ContextEval(ctx, act)
	if err != nil {
		return Decision{}, evalError(f.src, contextDone(ctx, err))
	}
	switch v := val.(type) {
	case types.Bool:
		return Decision{Match: bool(v)}, nil
	case *types.Unknown:
		return f.residual(det.State(), vars)
	}
	return Decision{}, notBoolean(f.src)
}

// residual builds the text of what is left of f once state, the values the
// partial evaluation found, is folded in.
func (f *Filter) residual(state interpreter.EvalState, vars map[string]any) (Decision, error) {
	native := f.ast.NativeRep()
	// The pruner edits the macro table it is given: a copy keeps the
	// compiled filter safe for concurrent calls.
	pruned := interpreter.PruneAst(native.Expr(), maps.Clone(native.SourceInfo().MacroCalls()), state)
	if err := firstError(pruned.Expr(), state); err != nil {
		return Decision{}, evalError(f.src, err)
	}
	expr := fold(ast.NewExprFactory(), pruned.Expr())
	if lit, ok := boolLiteral(expr); ok {
		return Decision{Match: lit}, nil
	}
	text, err := parser.Unparse(expr, pruned.SourceInfo())
	if err != nil {
		return Decision{}, fmt.Errorf("resource filter '%s': cannot write what is left for the cluster: %w", f.src, err)
	}
	// What the pruner could not fold (inside a comprehension over res,
	// say) still reads req or claims: bind them to the values it reads.
	refs := freeRefs(expr)
	for _, name := range []string{varClaims, varReq} {
		paths, ok := refs[name]
		if !ok {
			continue
		}
		lit, err := project(vars[name], paths)
		if err != nil {
			return Decision{}, fmt.Errorf("resource filter '%s': cannot send %s to the cluster: %w", f.src, name, err)
		}
		text = "cel.bind(" + name + ", " + lit + ", " + text + ")"
	}
	if err := checkResidual(text); err != nil {
		return Decision{}, fmt.Errorf("resource filter '%s': %w", f.src, err)
	}
	return Decision{Residual: text}, nil
}

// firstError returns the first error the partial evaluation met in what is
// left of the expression, outside comprehension bodies: their state is
// that of the last iteration only.
func firstError(e ast.Expr, state interpreter.EvalState) error {
	if v, ok := state.Value(e.ID()); ok && types.IsError(v) {
		if err, ok := v.(*types.Err); ok {
			return err
		}
		return fmt.Errorf("%v", v)
	}
	var children []ast.Expr
	switch e.Kind() {
	case ast.SelectKind:
		children = []ast.Expr{e.AsSelect().Operand()}
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			children = append(children, c.Target())
		}
		children = append(children, c.Args()...)
	case ast.ListKind:
		children = e.AsList().Elements()
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			children = append(children, en.AsMapEntry().Key(), en.AsMapEntry().Value())
		}
	case ast.StructKind:
		for _, fl := range e.AsStruct().Fields() {
			children = append(children, fl.AsStructField().Value())
		}
	case ast.ComprehensionKind:
		c := e.AsComprehension()
		children = []ast.Expr{c.IterRange(), c.AccuInit()}
	}
	for _, c := range children {
		if err := firstError(c, state); err != nil {
			return err
		}
	}
	return nil
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
