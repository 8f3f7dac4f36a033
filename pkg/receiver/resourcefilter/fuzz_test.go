package resourcefilter

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"cel.dev/cel-go/common/types"

	"github.com/heraldhq/herald/pkg/fluxcel"
)

// fluxEval evaluates src in one go, as Flux's receiver does
// (fluxcd/pkg/runtime/cel: checked, OptOptimize, EvaluateBoolean). It
// returns "true", "false" or "error".
func fluxEval(t *testing.T, src string, withClaims bool, res, req, claims map[string]any) string {
	t.Helper()
	names := []string{varRes, varReq}
	vars := map[string]any{varRes: res, varReq: req}
	if withClaims {
		names = append(names, varClaims)
		vars[varClaims] = claims
	}
	env, err := fluxcel.NewEnv(names)
	if err != nil {
		t.Fatal(err)
	}
	ast, err := fluxcel.Compile(env, src, nil)
	if err != nil {
		t.Fatalf("%s compiles for Decide but not for Flux: %v", src, err)
	}
	prog, err := fluxcel.Program(env, ast)
	if err != nil {
		t.Fatal(err)
	}
	val, _, err := prog.ContextEval(context.Background(), vars)
	if err != nil {
		return "error"
	}
	if b, ok := val.(types.Bool); ok {
		return fmt.Sprint(bool(b))
	}
	return "error"
}

// gen builds filters and objects from fuzz bytes; once the bytes run out
// every choice is the first.
type gen struct{ data []byte }

func (g *gen) pick(n int) int {
	if len(g.data) == 0 {
		return 0
	}
	b := g.data[0]
	g.data = g.data[1:]
	return int(b) % n
}

func (g *gen) oneOf(s ...string) string { return s[g.pick(len(s))] }

var words = []string{"a", "b", "podinfo", "main", "refs/heads/main", "prod", ""}

func (g *gen) word() string { return words[g.pick(len(words))] }

// value is a string-valued operand: from res, req, claims, a literal, or
// a loop variable.
func (g *gen) value(loopVar string) string {
	switch g.pick(8) {
	case 0:
		return "res.metadata." + g.oneOf("name", "namespace", "labels.app", "labels.env", "annotations.owner")
	case 1:
		return "res." + g.oneOf("kind", "apiVersion")
	case 2:
		return "req." + g.oneOf("ref", "repository.name", "missing", "after")
	case 3:
		return "claims." + g.oneOf("sub", "aud", "missing")
	case 4:
		if loopVar != "" {
			return loopVar
		}
	}
	return fmt.Sprintf("%q", g.word())
}

// boolean is a filter of depth at most d.
func (g *gen) boolean(d int, loopVar string) string {
	if d <= 0 {
		return g.atom(loopVar)
	}
	switch g.pick(10) {
	case 0:
		return "(" + g.boolean(d-1, loopVar) + " && " + g.boolean(d-1, loopVar) + ")"
	case 1:
		return "(" + g.boolean(d-1, loopVar) + " || " + g.boolean(d-1, loopVar) + ")"
	case 2:
		return "!(" + g.boolean(d-1, loopVar) + ")"
	case 3:
		return "(" + g.boolean(d-1, loopVar) + " ? " + g.boolean(d-1, loopVar) + " : " + g.boolean(d-1, loopVar) + ")"
	case 4:
		v := g.oneOf("k", "req", "x")
		return g.oneOf("res.metadata.labels", "req.repository", "claims.groups", "req.names", "res.metadata.annotations") +
			"." + g.oneOf("exists", "all", "exists_one") + "(" + v + ", " + g.boolean(d-1, v) + ")"
	}
	return g.atom(loopVar)
}

func (g *gen) atom(loopVar string) string {
	switch g.pick(7) {
	case 0:
		return g.value(loopVar) + " == " + g.value(loopVar)
	case 1:
		return g.value(loopVar) + " != " + g.value(loopVar)
	case 2:
		return "has(" + g.oneOf("res.metadata.labels.app", "req.repository.name", "req.missing", "claims.sub", "res.metadata.labels") + ")"
	case 3:
		return g.value(loopVar) + " in " + g.oneOf("req.names", "claims.groups", "res.metadata.labels", `["a", "prod"]`)
	case 4:
		return g.value(loopVar) + "." + g.oneOf("startsWith", "endsWith", "contains") + "(" + g.value(loopVar) + ")"
	case 5:
		return g.oneOf("req.size", "claims.iat", "size(res.metadata.labels)") + g.oneOf(" > ", " == ", " <= ") + g.oneOf("1", "2.5", "3u")
	}
	return g.oneOf("true", "false")
}

func (g *gen) labels() map[string]any {
	m := map[string]any{}
	for _, k := range []string{"app", "env", "team"} {
		if g.pick(2) == 0 {
			m[k] = g.word()
		}
	}
	return m
}

// object is res, as the forwarder gives it.
func (g *gen) object() map[string]any {
	meta := map[string]any{"name": g.word(), "namespace": g.oneOf("flux-system", "apps")}
	if g.pick(3) != 0 {
		meta["labels"] = g.labels()
	}
	if g.pick(2) == 0 {
		meta["annotations"] = map[string]any{"owner": g.word()}
	}
	return map[string]any{"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": g.oneOf("GitRepository", "Kustomization"), "metadata": meta}
}

// body is req, as JSON decodes it.
func (g *gen) body() map[string]any {
	var names []any
	for range g.pick(3) {
		names = append(names, g.word())
	}
	m := map[string]any{"ref": g.word(), "names": names, "size": float64(g.pick(4))}
	if g.pick(2) == 0 {
		m["repository"] = g.labels()
	}
	if g.pick(3) == 0 {
		m["after"] = nil
	}
	return m
}

func (g *gen) claims() map[string]any {
	m := map[string]any{"sub": g.word(), "iat": float64(g.pick(4)), "groups": []any{g.word(), g.word()}}
	if g.pick(2) == 0 {
		m["aud"] = g.word()
	}
	return m
}

// FuzzResidualAgreesWithFlux is the property the split rests on: for any
// filter, call and object, evaluating the residual against the object
// gives Flux's answer for the whole filter (true, false or an error), and
// a decision at the receiver is Flux's answer for every object.
func FuzzResidualAgreesWithFlux(f *testing.F) {
	for _, seed := range []string{"", "\x04\x00\x00\x02", "\x00\x04\x02\x02\x05\x01", "\x03\x01\x02\x00\x00\x06\x00\x00\x01\x02", "\x09\x04\x01\x02\x00\x04\x02\x00\x01"} {
		f.Add([]byte(seed), []byte("objects-1"), []byte("call-1"))
	}
	f.Fuzz(func(t *testing.T, filterBytes, objectBytes, callBytes []byte) {
		g := &gen{data: filterBytes}
		withClaims := g.pick(2) == 0
		src := g.boolean(3, "")
		fl, err := Compile(src, withClaims)
		if err != nil {
			return // not every generated filter type-checks
		}
		c := &gen{data: callBytes}
		req, claims := c.body(), c.claims()
		d, err := fl.Decide(context.Background(), req, claims)
		o := &gen{data: objectBytes}
		objects := make([]map[string]any, 8)
		for i := range objects {
			objects[i] = o.object()
		}
		if err != nil {
			// Decide fails the call for an error in the part of the
			// filter over req and claims, where Flux fails only for the
			// objects that reach it: stricter, never selecting more.
			return
		}
		var residual *Residual
		if d.Residual != "" {
			if residual, err = ParseResidual(d.Residual); err != nil {
				t.Fatalf("%s: residual %s: %v", src, d.Residual, err)
			}
		}
		for _, res := range objects {
			want := fluxEval(t, src, withClaims, res, req, claims)
			got := fmt.Sprint(d.Match)
			if residual != nil {
				ok, err := residual.Match(context.Background(), res)
				got = fmt.Sprint(ok)
				if err != nil {
					got = "error"
				}
			}
			if got != want {
				resJSON, _ := json.Marshal(res)
				reqJSON, _ := json.Marshal(req)
				claimsJSON, _ := json.Marshal(claims)
				t.Fatalf("filter %s\nresidual %q (decision %v)\nres %s\nreq %s\nclaims %s\nthe split says %s, Flux says %s",
					src, d.Residual, d.Match, resJSON, reqJSON, claimsJSON, got, want)
			}
		}
	})
}

// FuzzDecide feeds any filter text and body: no panic, and a residual
// always parses and reads nothing but res.
func FuzzDecide(f *testing.F) {
	f.Add(`res.metadata.name == req.ref`, []byte(`{"ref":"main"}`))
	f.Add(`res.metadata.labels.exists(k, k == req.a.b)`, []byte(`{"a":{"b":[1,2,{"c":null}]}}`))
	f.Add(`req.a.exists(x, x == res.kind) || claims.sub == "x"`, []byte(`{"a":["GitRepository"]}`))
	f.Fuzz(func(t *testing.T, src string, body []byte) {
		var req map[string]any
		if json.Unmarshal(body, &req) != nil {
			req = map[string]any{}
		}
		for _, withClaims := range []bool{false, true} {
			fl, err := Compile(src, withClaims)
			if err != nil {
				continue
			}
			d, err := fl.Decide(context.Background(), req, req)
			if err != nil || d.Residual == "" {
				continue
			}
			r, err := ParseResidual(d.Residual)
			if err != nil {
				t.Fatalf("%s: residual %q: %v", src, d.Residual, err)
			}
			if encodedLen(d.Residual) > MaxResidualBytes {
				t.Fatalf("%s: residual of %d bytes", src, encodedLen(d.Residual))
			}
			_, _ = r.Match(context.Background(), map[string]any{"metadata": map[string]any{"name": "a"}})
		}
	})
}
