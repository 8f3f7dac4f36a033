package resourcefilter

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// pushBody is what the tests' webhook sent, as the receiver parsed it.
var pushBody = map[string]any{
	"ref":        "refs/heads/main",
	"size":       3.0,
	"names":      []any{"podinfo", "flagger"},
	"repository": map[string]any{"name": "podinfo", "owner": "stefanprodan", "topics": []any{"gitops"}},
}

var oidcClaims = map[string]any{
	"sub":    "repo:stefanprodan/podinfo:ref:refs/heads/main",
	"groups": []any{"deployers", "readers"},
}

func TestDecide(t *testing.T) {
	for _, tc := range []struct {
		name, src string
		// want is "true" or "false" for a decision, else the residual.
		want string
	}{
		{"req only, true", `req.ref == 'refs/heads/main'`, "true"},
		{"req only, false", `req.ref == 'refs/heads/dev'`, "false"},
		{"res only", `res.metadata.name == 'podinfo'`, `res.metadata.name == "podinfo"`},
		{"mixed, req true", `req.ref == 'refs/heads/main' && res.metadata.labels.env == 'prod'`, `res.metadata.labels.env == "prod"`},
		{"mixed, req false", `req.ref == 'refs/heads/dev' && res.metadata.labels.env == 'prod'`, "false"},
		{"mixed, req true in an or", `req.ref == 'refs/heads/main' || res.metadata.labels.env == 'prod'`, "true"},
		{"req values become literals", `res.metadata.name in req.names`, `res.metadata.name in ["podinfo", "flagger"]`},
		{"nested field", `res.metadata.name == req.repository.name`, `res.metadata.name == "podinfo"`},
		{"claims", `claims.sub.startsWith('repo:stefanprodan/') && res.metadata.namespace == 'apps'`, `res.metadata.namespace == "apps"`},
		{"has on a present field", `has(req.repository.topics) && res.kind == 'GitRepository'`, `res.kind == "GitRepository"`},
		{"has on a missing field", `has(req.head_commit) && res.kind == 'GitRepository'`, "false"},
		{"not has", `!has(req.head_commit) && res.kind == 'GitRepository'`, `res.kind == "GitRepository"`},
		{"an error masked by false", `(req.ref == 'refs/heads/dev' && req.missing == 'x') || res.metadata.name == 'a'`, `res.metadata.name == "a"`},
		{"constant folding of a chain", `req.size == 3 && req.ref == 'refs/heads/main' && [1, 2].exists(i, i == 2) && res.kind == 'Kustomization'`, `res.kind == "Kustomization"`},
		{"constant folding of a condition", `req.ref == 'refs/heads/main' ? res.metadata.name == 'a' : res.metadata.name == 'b'`, `res.metadata.name == "a"`},
		{"constant folding of not", `!(req.size > 5) && res.metadata.name == 'a'`, `res.metadata.name == "a"`},
		{"a comprehension over res reads only what it needs of req", `res.metadata.labels.exists(k, res.metadata.labels[k] == req.repository.name)`,
			`cel.bind(req, {"repository": {"name": "podinfo"}}, res.metadata.labels.exists(k, res.metadata.labels[k] == req.repository.name))`},
		{"a missing field stays missing", `res.metadata.labels.all(k, has(req.repository.missing))`,
			`cel.bind(req, {"repository": {}}, res.metadata.labels.all(k, has(req.repository.missing)))`},
		{"a branch left for the cluster", `res.metadata.name == 'a' ? req.ref == 'refs/heads/dev' : true`,
			`cel.bind(req, {"ref": "refs/heads/main"}, (res.metadata.name == "a") ? (req.ref == "refs/heads/dev") : true)`},
		{"claims in a comprehension", `res.metadata.labels.exists(k, k in claims.groups)`,
			`cel.bind(claims, {"groups": ["deployers", "readers"]}, res.metadata.labels.exists(k, k in claims.groups))`},
		{"a variable named req is the comprehension's", `res.metadata.labels.exists(req, req == 'x')`, `res.metadata.labels.exists(req, req == "x")`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.src, true)
			if err != nil {
				t.Fatal(err)
			}
			d, err := f.Decide(context.Background(), pushBody, oidcClaims)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Residual
			if got == "" {
				got = map[bool]string{true: "true", false: "false"}[d.Match]
			}
			if got != tc.want {
				t.Fatalf("Decide(%s) =\n  %s\nwant\n  %s", tc.src, got, tc.want)
			}
			if d.Residual != "" {
				if _, err := ParseResidual(d.Residual); err != nil {
					t.Fatalf("the residual does not parse: %v", err)
				}
			}
		})
	}
}

func TestDecideErrors(t *testing.T) {
	big := map[string]any{"names": []any{strings.Repeat("n", MaxResidualBytes)}}
	for _, tc := range []struct {
		name, src  string
		req        map[string]any
		withClaims bool
		want       string
	}{
		// Flux answers 500 as soon as one object reaches the error:
		// Herald answers it for the call.
		{"an error in the req part", `req.missing == 'x' && res.metadata.name == 'a'`, pushBody, false,
			`failed to evaluate the CEL expression 'req.missing == 'x' && res.metadata.name == 'a'': no such key: missing`},
		{"an error next to res", `res.metadata.name == 'a' || req.missing == 'x'`, pushBody, false,
			`failed to evaluate the CEL expression 'res.metadata.name == 'a' || req.missing == 'x'': no such key: missing`},
		{"an error of a filter over req alone", `req.missing == 'x'`, pushBody, false,
			`failed to evaluate the CEL expression 'req.missing == 'x'': no such key: missing`},
		{"claims without a value", `claims.sub == 'x' || res.kind == 'Bucket'`, pushBody, true,
			`failed to evaluate the CEL expression 'claims.sub == 'x' || res.kind == 'Bucket'': no such key: sub`},
		{"a residual over the cap", `res.metadata.name in req.names`, big, false,
			`resource filter 'res.metadata.name in req.names': the part left for the cluster to evaluate is 8221 bytes, over Herald's limit of 8192; read less of req or claims in the part of the filter that also reads res`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.src, tc.withClaims)
			if err != nil {
				t.Fatal(err)
			}
			d, err := f.Decide(context.Background(), tc.req, nil)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("Decide(%s) = %+v, %v\nwant error %s", tc.src, d, err, tc.want)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	for _, tc := range []struct {
		src        string
		withClaims bool
		want       string
	}{
		{`claims.sub == 'x'`, false, "failed to parse the CEL expression 'claims.sub == 'x'': ERROR: <input>:1:1: undeclared reference to 'claims'\n | claims.sub == 'x'\n | ^"},
		{`req.flag`, true, "CEL expression output type mismatch: expected bool, got dyn"},
		{`res.metadata.name ==`, true, "failed to parse the CEL expression 'res.metadata.name ==': ERROR: <input>:1:21: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | res.metadata.name ==\n | ....................^"},
	} {
		if err := Check(tc.src, tc.withClaims); err == nil || err.Error() != tc.want {
			t.Errorf("Check(%s) = %v\nwant %s", tc.src, err, tc.want)
		}
	}
	if err := Check(`claims.sub == 'x' && res.kind == 'GitRepository'`, true); err != nil {
		t.Errorf("claims with claims declared: %v", err)
	}
}

func TestResidualMatch(t *testing.T) {
	r, err := ParseResidual(`cel.bind(req, {"ref": "refs/heads/main"}, res.metadata.name == "a" && req.ref.endsWith("/main"))`)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"a": true, "b": false} {
		got, err := r.Match(context.Background(), map[string]any{"metadata": map[string]any{"name": name}})
		if err != nil || got != want {
			t.Errorf("Match(%s) = %v, %v; want %v", name, got, err, want)
		}
	}
	_, err = r.Match(context.Background(), map[string]any{"metadata": map[string]any{}})
	if want := `failed to evaluate the CEL expression 'cel.bind(req, {"ref": "refs/heads/main"}, res.metadata.name == "a" && req.ref.endsWith("/main"))': no such key: name`; err == nil || err.Error() != want {
		t.Errorf("Match(no name) = %v\nwant %s", err, want)
	}

	for src, want := range map[string]string{
		`res.metadata.name == req.ref`: `the CEL expression 'res.metadata.name == req.ref' reads req, which only the receiver knows`,
		`claims.sub == "x" && req.a`:   `the CEL expression 'claims.sub == "x" && req.a' reads req and claims, which only the receiver knows`,
	} {
		if _, err := ParseResidual(src); err == nil || err.Error() != want {
			t.Errorf("ParseResidual(%s) = %v\nwant %s", src, err, want)
		}
	}
	if r, err := ParseResidual(`res.metadata.name`); err != nil {
		t.Error(err)
	} else if _, err := r.Match(context.Background(), map[string]any{"metadata": map[string]any{"name": "a"}}); err == nil ||
		err.Error() != `failed to evaluate CEL expression as boolean: 'res.metadata.name'` {
		t.Errorf("a residual that is not a boolean: %v", err)
	}
}

func TestBoth(t *testing.T) {
	yes, no := Decision{Match: true}, Decision{Match: false}
	a, b := Decision{Residual: `res.metadata.name == "a"`}, Decision{Residual: `res.kind == "GitRepository"`}
	for _, tc := range []struct {
		first, second, want Decision
	}{
		{no, a, no}, {yes, a, a}, {yes, no, no}, {a, yes, a}, {a, no, no},
		// Flux evaluates the Receiver's filter first, and the resource's
		// only where it is true.
		{a, b, Decision{Residual: `(res.metadata.name == "a") ? (res.kind == "GitRepository") : false`}},
	} {
		got, err := Both(tc.first, tc.second)
		if err != nil || got != tc.want {
			t.Errorf("Both(%+v, %+v) = %+v, %v; want %+v", tc.first, tc.second, got, err, tc.want)
		}
	}
}

// TestDecideConcurrently: one compiled filter serves concurrent calls (run
// with -race): building a residual must not touch the shared AST.
func TestDecideConcurrently(t *testing.T) {
	f, err := Compile(`res.metadata.labels.exists(k, k == req.ref) && has(req.ref)`, false)
	if err != nil {
		t.Fatal(err)
	}
	const want = `cel.bind(req, {"ref": "refs/heads/main"}, res.metadata.labels.exists(k, k == req.ref))`
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			d, err := f.Decide(context.Background(), pushBody, nil)
			if err == nil && d.Residual != want {
				err = fmt.Errorf("residual %s, want %s", d.Residual, want)
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
