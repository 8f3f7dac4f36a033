package api

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	apiVersionLine = regexp.MustCompile(`(?m)^apiVersion: notification\.toolkit\.fluxcd\.io/v1beta3$`)
	// removedField matches a top-level spec field that v1 removed.
	removedField = regexp.MustCompile(`(?m)^  (summary|proxy|interval):`)
	// exampleLine is the comment that says where an example comes from.
	exampleLine = regexp.MustCompile(`[a-z]+\.md line [0-9]+`)
)

// validateExample decodes and validates one example on its own. Secrets
// live elsewhere (Flux's docs show them as kubectl commands), and an Alert
// gets a stand-in for the Provider it names.
func validateExample(doc string) []string {
	cfg, err := Decode("example.yaml", []byte(doc))
	var out []string
	if err != nil {
		out = append(out, strings.Split(err.Error(), "\n")...)
	}
	for _, a := range cfg.Alerts {
		cfg.Providers = append(cfg.Providers, Provider{
			TypeMeta: a.TypeMeta,
			Metadata: ObjectMeta{Name: a.Spec.ProviderRef.Name, Namespace: a.Metadata.Namespace},
			Spec:     ProviderSpec{Type: "generic", Address: "https://example.com"},
		})
	}
	for _, e := range Validate(cfg, ValidateOptions{ExternalSecrets: true}).Errors {
		out = append(out, e.Error())
	}
	return out
}

// Every Provider and Alert example of Flux's newest docs validates as
// written (v1beta3), and again as notification.toolkit.fluxcd.io/v1, except
// for the fields v1 removed, which are then exactly the errors.
func TestFluxDocsExamples(t *testing.T) {
	for _, file := range []string{"providers.yaml", "alerts.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "flux-docs", file))
		if err != nil {
			t.Fatal(err)
		}
		docs := strings.Split(string(data), "\n---\n")
		if len(docs) < 2 {
			t.Fatalf("%s: only %d examples", file, len(docs))
		}
		for i, doc := range docs {
			where := exampleLine.FindString(doc)
			if errs := validateExample(doc); len(errs) > 0 {
				t.Errorf("%s example %d (%s) as written:\n%s", file, i, where, strings.Join(errs, "\n"))
			}
			v1doc := apiVersionLine.ReplaceAllString(doc, "apiVersion: "+v1)
			if v1doc == doc {
				t.Fatalf("%s example %d (%s) is not v1beta3", file, i, where)
			}
			var want []string
			for _, m := range removedField.FindAllStringSubmatch(v1doc, -1) {
				want = append(want, fmt.Sprintf("spec.%s: field not available in %s", m[1], v1))
			}
			got := validateExample(v1doc)
			if len(got) != len(want) {
				t.Errorf("%s example %d (%s) as v1: errors\n%s\nwant one for each of %q", file, i, where, strings.Join(got, "\n"), want)
				continue
			}
			for j := range want {
				if !strings.Contains(got[j], want[j]) {
					t.Errorf("%s example %d (%s) as v1: %s\nwant %s", file, i, where, got[j], want[j])
				}
			}
		}
	}
}
