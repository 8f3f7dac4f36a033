package resourcefilter

import (
	"fmt"
	"slices"

	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/parser"
)

// freeRefs lists the variables e reads that no comprehension of e binds,
// each with the field paths it is read through: req.a.b gives ["a", "b"],
// a bare req or req[x] gives nil, the whole value.
func freeRefs(e ast.Expr) map[string][][]string {
	refs := map[string][][]string{}
	walkRefs(e, map[string]int{}, refs)
	return refs
}

func walkRefs(e ast.Expr, bound map[string]int, refs map[string][][]string) {
	switch e.Kind() {
	case ast.IdentKind:
		if name := e.AsIdent(); bound[name] == 0 {
			refs[name] = append(refs[name], nil)
		}
	case ast.SelectKind:
		// Follow a chain of field selections down to its root.
		var path []string
		root := e
		for root.Kind() == ast.SelectKind {
			path = append(path, root.AsSelect().FieldName())
			root = root.AsSelect().Operand()
		}
		if root.Kind() == ast.IdentKind {
			if name := root.AsIdent(); bound[name] == 0 {
				slices.Reverse(path)
				refs[name] = append(refs[name], path)
			}
			return
		}
		walkRefs(root, bound, refs)
	case ast.CallKind:
		c := e.AsCall()
		if c.IsMemberFunction() {
			walkRefs(c.Target(), bound, refs)
		}
		for _, a := range c.Args() {
			walkRefs(a, bound, refs)
		}
	case ast.ListKind:
		for _, el := range e.AsList().Elements() {
			walkRefs(el, bound, refs)
		}
	case ast.MapKind:
		for _, en := range e.AsMap().Entries() {
			walkRefs(en.AsMapEntry().Key(), bound, refs)
			walkRefs(en.AsMapEntry().Value(), bound, refs)
		}
	case ast.StructKind:
		for _, f := range e.AsStruct().Fields() {
			walkRefs(f.AsStructField().Value(), bound, refs)
		}
	case ast.ComprehensionKind:
		// The scopes of CEL's checker: the range and the initial value
		// outside, the loop with the accumulator and the iteration
		// variables, the result with the accumulator alone.
		c := e.AsComprehension()
		walkRefs(c.IterRange(), bound, refs)
		walkRefs(c.AccuInit(), bound, refs)
		bound[c.AccuVar()]++
		loopVars := []string{c.IterVar()}
		if c.HasIterVar2() {
			loopVars = append(loopVars, c.IterVar2())
		}
		for _, v := range loopVars {
			bound[v]++
		}
		walkRefs(c.LoopCondition(), bound, refs)
		walkRefs(c.LoopStep(), bound, refs)
		for _, v := range loopVars {
			bound[v]--
		}
		walkRefs(c.Result(), bound, refs)
		bound[c.AccuVar()]--
	}
}

// projection is the part of a value that field paths read: whole, or
// some of its fields.
type projection struct {
	whole  bool
	fields map[string]*projection
}

func (p *projection) add(path []string) {
	n := p
	for _, f := range path {
		if n.whole {
			return
		}
		if n.fields == nil {
			n.fields = map[string]*projection{}
		}
		if n.fields[f] == nil {
			n.fields[f] = &projection{}
		}
		n = n.fields[f]
	}
	n.whole, n.fields = true, nil
}

// project writes, as a CEL literal, the part of value that paths read.
// A field that value lacks is left out, so that reading it fails, or
// has() says false, as on the whole value.
func project(value any, paths [][]string) (string, error) {
	var p projection
	for _, path := range paths {
		p.add(path)
	}
	b := literalBuilder{fac: ast.NewExprFactory()}
	e, err := b.projected(types.DefaultTypeAdapter.NativeToValue(value), &p)
	if err != nil {
		return "", err
	}
	return parser.Unparse(e, ast.NewSourceInfo(nil))
}

type literalBuilder struct {
	fac ast.ExprFactory
	id  int64
}

func (b *literalBuilder) nextID() int64 { b.id++; return b.id }

func (b *literalBuilder) projected(v ref.Val, p *projection) (ast.Expr, error) {
	m, ok := v.(traits.Mapper)
	if p.whole || !ok {
		return b.literal(v)
	}
	keys := make([]string, 0, len(p.fields))
	for k := range p.fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	entries := make([]ast.EntryExpr, 0, len(keys))
	for _, k := range keys {
		fv, found := m.Find(types.String(k))
		if !found {
			continue
		}
		val, err := b.projected(fv, p.fields[k])
		if err != nil {
			return nil, err
		}
		entries = append(entries, b.fac.NewMapEntry(b.nextID(), b.fac.NewLiteral(b.nextID(), types.String(k)), val, false))
	}
	return b.fac.NewMap(b.nextID(), entries), nil
}

// literal writes a JSON-like value (what req and claims hold) as a CEL
// literal.
func (b *literalBuilder) literal(v ref.Val) (ast.Expr, error) {
	switch v := v.(type) {
	case types.Bool, types.Bytes, types.Double, types.Int, types.Uint, types.Null, types.String:
		return b.fac.NewLiteral(b.nextID(), v), nil
	case traits.Lister:
		n := int(v.Size().(types.Int))
		elems := make([]ast.Expr, n)
		for i := range n {
			el, err := b.literal(v.Get(types.Int(i)))
			if err != nil {
				return nil, err
			}
			elems[i] = el
		}
		return b.fac.NewList(b.nextID(), elems, nil), nil
	case traits.Mapper:
		var keys []ref.Val
		for it := v.Iterator(); it.HasNext() == types.True; {
			keys = append(keys, it.Next())
		}
		// A stable order, so that one call always gives one text.
		slices.SortFunc(keys, compareKeys)
		entries := make([]ast.EntryExpr, 0, len(keys))
		for _, k := range keys {
			key, err := b.literal(k)
			if err != nil {
				return nil, err
			}
			val, err := b.literal(v.Get(k))
			if err != nil {
				return nil, err
			}
			entries = append(entries, b.fac.NewMapEntry(b.nextID(), key, val, false))
		}
		return b.fac.NewMap(b.nextID(), entries), nil
	}
	return nil, fmt.Errorf("a value of type %s has no CEL literal", v.Type())
}

func compareKeys(a, b ref.Val) int {
	as, bs := fmt.Sprint(a.Value()), fmt.Sprint(b.Value())
	switch {
	case as < bs:
		return -1
	case as > bs:
		return 1
	}
	return 0
}
