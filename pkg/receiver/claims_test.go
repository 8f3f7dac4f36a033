package receiver

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
)

// TestClaimsEnvironment: the expressions Flux's environment allows
// (extensions, optionals, numbers across types) evaluate alike here.
func TestClaimsEnvironment(t *testing.T) {
	claims := map[string]any{
		"sub": "repo:org/app:ref:refs/heads/main", "email": "CI@Example.com", "exp": float64(1795325406),
		"groups": []any{"dev", "ops"}, "nested": map[string]any{"env": "prod"},
	}
	for _, expr := range []string{
		"claims.sub.startsWith('repo:org/') && claims.sub.split(':')[1] == 'org/app'",
		"claims.email.lowerAscii() == 'ci@example.com'",
		"sets.intersects(claims.groups, ['ops', 'admin'])",
		"base64.encode(b'ok') == 'b2s='",
		"claims.?missing.orValue('none') == 'none'",
		"claims.exp > 1700000000",
		"claims.nested.env == 'prod' && has(claims.nested.env) && !has(claims.team)",
		"vars.first == 'dev' && vars.count == 2",
	} {
		p := &api.OIDCProvider{
			Variables: []api.OIDCVariable{
				{Name: "first", Expression: "claims.groups[0]"},
				{Name: "count", Expression: "size(claims.groups)"},
			},
			Validations: []api.OIDCValidates{{Expression: expr, Message: "false"}},
		}
		rules, err := compileClaimRules(p)
		if err != nil {
			t.Errorf("%s: %v", expr, err)
			continue
		}
		if err := rules.evaluate(context.Background(), claims); err != nil {
			t.Errorf("%s: %v", expr, err)
		}
	}
}

func TestCheckOIDC(t *testing.T) {
	spec := &api.ReceiverSpec{
		Type: "generic-oidc",
		OIDCProviders: []api.OIDCProvider{
			{IssuerURL: "https://a.example.com", Validations: []api.OIDCValidates{{Expression: "claims.sub == 'x'", Message: "m"}}},
			{
				IssuerURL: "https://b.example.com",
				Variables: []api.OIDCVariable{{Name: "ok", Expression: "claims.sub"}, {Name: "bad", Expression: "claims.sub +"}, {Name: "empty"}},
				Validations: []api.OIDCValidates{
					{Expression: "vars.ok == 'x'", Message: "m"},
					{Expression: "claims.sub", Message: "not a bool"},
					{Expression: "unknown.sub == 'x'", Message: "undeclared"},
					{Expression: "", Message: "empty, left to api.Validate"},
				},
			},
		},
	}
	got := CheckOIDC(spec)
	want := []struct{ field, msg string }{
		{"spec.oidcProviders[1].variables[1].expression", "invalid CEL expression: failed to parse the CEL expression 'claims.sub +': ERROR: <input>:1:13: Syntax error"},
		{"spec.oidcProviders[1].validations[1].expression", "invalid CEL expression: CEL expression output type mismatch: expected bool, got dyn"},
		{"spec.oidcProviders[1].validations[2].expression", "undeclared reference to 'unknown'"},
	}
	if len(got) != len(want) {
		t.Fatalf("CheckOIDC() = %v, want %d errors", got, len(want))
	}
	for i, w := range want {
		if got[i].Field != w.field || !strings.Contains(got[i].Message, w.msg) {
			t.Errorf("error %d = %s: %s, want %s: …%s…", i, got[i].Field, got[i].Message, w.field, w.msg)
		}
	}
	if errs := CheckOIDC(&api.ReceiverSpec{Type: "github"}); len(errs) != 0 {
		t.Errorf("no providers: %v", errs)
	}
}

// TestClaimsEvaluationErrors: what a validation cannot decide is an error,
// not a pass.
func TestClaimsEvaluationErrors(t *testing.T) {
	p := &api.OIDCProvider{Validations: []api.OIDCValidates{{Expression: "claims.groups.exists(g, g == 'ops')", Message: "not ops"}}}
	rules, err := compileClaimRules(p)
	if err != nil {
		t.Fatal(err)
	}
	for claims, want := range map[string]map[string]any{
		"failed to evaluate validation: failed to evaluate the CEL expression 'claims.groups.exists(g, g == 'ops')': no such key: groups": {},
		"token validation failed: not ops": {"groups": []any{"dev"}},
	} {
		if err := rules.evaluate(context.Background(), want); err == nil || err.Error() != claims {
			t.Errorf("evaluate(%v) = %v, want %q", want, err, claims)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow, err := compileClaimRules(&api.OIDCProvider{Validations: []api.OIDCValidates{
		{Expression: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, a+b+c > 0)))", Message: "m"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := slow.evaluate(ctx, map[string]any{}); err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Errorf("evaluate with a cancelled context = %v, want it interrupted", err)
	}
}
