// Package layering holds the test that keeps the package map of
// docs/architecture.md true: each rule names packages and what they must
// not depend on, directly or through another package.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/heraldhq/herald/"

// rules: the packages matched by pattern must not depend on any package
// under the listed paths (relative to the module).
var rules = []struct {
	pattern   string
	forbidden []string
	why       string
}{
	{"./pkg/store/...", []string{"pkg/config", "pkg/delivery", "pkg/notify", "pkg/rules", "pkg/server", "pkg/secrets"},
		"the stores hold state behind ports; compiled config and delivery sit above them"},
	{"./pkg/delivery/...", []string{"pkg/store/dynamo", "pkg/store/memory", "pkg/store/boltdb", "pkg/config", "pkg/server", "pkg/rules"},
		"delivery defines the idempotency port; the DynamoDB store implements it, wired in functions/dispatch"},
	{"./pkg/config/...", []string{"pkg/store/dynamo", "pkg/store/memory", "pkg/server", "pkg/secrets"},
		"a config source is handed its loader and secret lookup"},
	{"./pkg/notify/...", []string{"pkg/delivery", "pkg/store", "pkg/config", "pkg/server", "pkg/rules", "pkg/secrets"},
		"a provider knows its resolved config and the event, nothing about queues or stores"},
	{"./pkg/rules/...", []string{"pkg/notify", "pkg/delivery", "pkg/store", "pkg/config", "pkg/server"},
		"matching is pure"},
	{"./pkg/receiver/...", []string{"pkg/notify", "pkg/delivery", "pkg/store", "pkg/config", "pkg/server", "pkg/rules"},
		"verifying a webhook needs the Receiver and its secret only"},
	{"./pkg/api/...", []string{"pkg/event", "pkg/notify", "pkg/rules", "pkg/receiver", "pkg/delivery", "pkg/store", "pkg/config", "pkg/server"},
		"the config types are the bottom layer"},
	{"./pkg/event/...", []string{"pkg/"},
		"the event type is the bottom layer"},
	{"./pkg/fluxcel/...", []string{"pkg/"},
		"Flux's CEL environment is shared by providers and receivers, below both"},
	{"./pkg/redirect/...", []string{"pkg/"},
		"the redirect policy is shared by providers and receivers, below both"},
	{"./pkg/...", []string{"cmd/", "functions/", "internal/"},
		"libraries never import a binary or test support"},
}

func TestLayering(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pattern, func(t *testing.T) {
			cmd := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", r.pattern)
			cmd.Dir = "../.."
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %s: %v", r.pattern, err)
			}
			deps := strings.Fields(string(out))
			own := 0
			for _, dep := range deps {
				rel, ok := strings.CutPrefix(dep, module)
				if !ok {
					continue
				}
				own++
				if selfMatch(r.pattern, rel) {
					continue
				}
				for _, f := range r.forbidden {
					if rel == strings.TrimSuffix(f, "/") || strings.HasPrefix(rel, strings.TrimSuffix(f, "/")+"/") {
						t.Errorf("%s depends on %s (%s)", r.pattern, rel, r.why)
					}
				}
			}
			if own == 0 {
				t.Fatalf("go list %s named no package of the module; the rule proves nothing", r.pattern)
			}
		})
	}
}

// selfMatch reports whether rel is one of the packages the pattern names,
// so that a rule over ./pkg/event/... does not forbid pkg/event itself.
func selfMatch(pattern, rel string) bool {
	base := strings.TrimSuffix(strings.TrimPrefix(pattern, "./"), "/...")
	return rel == base || strings.HasPrefix(rel, base+"/")
}
