package resourcefilter

import (
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
)

// fold simplifies the logical operators whose operands the call decided:
// the pruner leaves "true && true && res.x" when cel-go evaluated the
// chain as one node. Each rule holds for errors too (false && error is
// false, true && error is error). It leaves comprehensions alone, since
// they are written out from their macro call, not from these nodes.
func fold(fac ast.ExprFactory, e ast.Expr) ast.Expr {
	if e.Kind() != ast.CallKind {
		return e
	}
	call := e.AsCall()
	args := call.Args()
	switch name := call.FunctionName(); name {
	case operators.LogicalAnd, operators.LogicalOr:
		l, r := fold(fac, args[0]), fold(fac, args[1])
		// absorbing decides the operator (false for &&, true for ||);
		// the other value leaves the other operand as it is.
		absorbing := name == operators.LogicalOr
		lb, lok := boolLiteral(l)
		rb, rok := boolLiteral(r)
		switch {
		case lok && lb == absorbing, rok && rb == absorbing:
			return fac.NewLiteral(e.ID(), types.Bool(absorbing))
		case lok:
			return r
		case rok:
			return l
		}
		return fac.NewCall(e.ID(), name, l, r)
	case operators.LogicalNot:
		a := fold(fac, args[0])
		if b, ok := boolLiteral(a); ok {
			return fac.NewLiteral(e.ID(), types.Bool(!b))
		}
		return fac.NewCall(e.ID(), name, a)
	case operators.Conditional:
		cond := fold(fac, args[0])
		if b, ok := boolLiteral(cond); ok {
			if b {
				return fold(fac, args[1])
			}
			return fold(fac, args[2])
		}
		return fac.NewCall(e.ID(), name, cond, fold(fac, args[1]), fold(fac, args[2]))
	}
	return e
}

func boolLiteral(e ast.Expr) (bool, bool) {
	if e.Kind() != ast.LiteralKind {
		return false, false
	}
	b, ok := e.AsLiteral().(types.Bool)
	return bool(b), ok
}
