package fluxcel

import (
	"context"
	"strings"
	"testing"

	"cel.dev/cel-go/cel"
)

// The texts and behaviour Flux's expressions have: variables are JSON
// objects, the output type is checked, and extensions Flux enables work.
func TestFluxEnvironment(t *testing.T) {
	env, err := NewEnv([]string{"req"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Compile(env, "req.ref", cel.BoolType); err == nil ||
		err.Error() != "CEL expression output type mismatch: expected bool, got dyn" {
		t.Errorf("a dyn expression where bool is wanted: %v", err)
	}
	if _, err := Compile(env, "req.ref ==", nil); err == nil || !strings.HasPrefix(err.Error(), "failed to parse the CEL expression 'req.ref ==': ") {
		t.Errorf("a syntax error: %v", err)
	}
	if _, err := Compile(env, "claims.sub == 'x'", cel.BoolType); err == nil || !strings.Contains(err.Error(), "undeclared reference to 'claims'") {
		t.Errorf("an undeclared variable: %v", err)
	}
	// ext.Strings and ext.Sets, and a cross-type numeric comparison.
	ast, err := Compile(env, "req.ref.split('/')[2] == 'main' && sets.contains([1, 2], [1]) && req.n > 1", cel.BoolType)
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Program(env, ast)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := prog.ContextEval(context.Background(), map[string]any{"req": map[string]any{"ref": "refs/heads/main", "n": 2}})
	if err != nil || out.Value() != true {
		t.Errorf("evaluation = %v, %v; want true", out, err)
	}
}
