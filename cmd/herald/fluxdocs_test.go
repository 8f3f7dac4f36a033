package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify/registry"
)

const fluxDocsProviders = "testdata/flux-docs-providers.yaml"

// fluxDocsTypes are the provider types whose examples in Flux's
// providers.md Herald must accept. generic-hmac is one of them, but the docs
// show no generic-hmac Provider manifest, so the file has none.
var fluxDocsTypes = []string{
	"generic", "slack", "discord", "rocket", "msteams", "googlechat", "webex", "telegram",
	"matrix", "lark", "opsgenie", "alertmanager", "grafana", "pagerduty", "datadog", "zulip", "zoom",
	"incident.io", "githubdispatch", "nats", "sentry", "otel", "googlepubsub", "azureeventhub",
	// The docs show no manifest for the other git types, only their
	// Secrets.
	"github",
}

var (
	providerKindLine = regexp.MustCompile(`(?m)^kind: Provider$`)
	specTypeLine     = regexp.MustCompile(`(?m)^  type: (\S+)$`)
)

func runRegistryValidate(t *testing.T, path string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = validateCommand{}.run([]string{"-f", path}, &out, &errOut)
	return code, out.String(), errOut.String()
}

// The Provider examples of Flux's documentation, with their Secrets, as a
// user migrating to Herald would bring them.
func TestValidateFluxDocsProviders(t *testing.T) {
	data, err := os.ReadFile(fluxDocsProviders)
	if err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(string(data), "\n---\n")

	// The file covers every type it is meant to.
	covered := map[string]bool{}
	for _, doc := range docs {
		if providerKindLine.MatchString(doc) {
			if m := specTypeLine.FindStringSubmatch(doc); m != nil {
				covered[m[1]] = true
			}
		}
	}
	for _, typ := range fluxDocsTypes {
		if !covered[typ] {
			t.Errorf("%s has no Provider of type %s", fluxDocsProviders, typ)
		}
	}

	code, stdout, stderr := runRegistryValidate(t, fluxDocsProviders)
	// Every example loads, and none is warned about: Herald delivers to
	// every type the docs show.
	var errs, warnings []string
	for line := range strings.Lines(stderr) {
		line = strings.TrimSuffix(line, "\n")
		if strings.HasPrefix(line, "warning: ") && strings.Contains(line, "spec.type") {
			warnings = append(warnings, line)
		} else if !strings.HasPrefix(line, "warning: ") {
			errs = append(errs, line)
		}
	}
	if code != 0 || len(errs) > 0 || len(warnings) > 0 {
		t.Errorf("exit %d, want 0\nerrors:\n%s\ntype warnings:\n%s", code, strings.Join(errs, "\n"), strings.Join(warnings, "\n"))
	}
	for _, typ := range fluxDocsTypes {
		if !slices.Contains(registry.Types(), typ) {
			t.Errorf("type %s of Flux's docs is not delivered", typ)
		}
	}

	want := len(providerKindLine.FindAllString(string(data), -1))
	got := 0
	for line := range strings.Lines(stdout) {
		if strings.HasPrefix(line, "Provider/") {
			got++
		}
	}
	if code == 0 && got != want {
		t.Errorf("stdout has %d Provider lines, want one for each of the %d Providers:\n%s", got, want, stdout)
	}

	t.Run("unsupported type", func(t *testing.T) {
		// The Slack (legacy) example, which no other document matches.
		const target = "  type: slack\n  secretRef:\n    name: slack-webhook"
		index := slices.IndexFunc(docs, func(doc string) bool { return strings.Contains(doc, target) })
		if index < 0 || strings.Count(string(data), target) != 1 {
			t.Fatalf("%s no longer has exactly one document with\n%s", fluxDocsProviders, target)
		}
		path := filepath.Join(t.TempDir(), "providers.yaml")
		broken := strings.Replace(string(data), target, strings.Replace(target, "slack", "carrier-pigeon", 1), 1)
		if err := os.WriteFile(path, []byte(broken), 0o600); err != nil {
			t.Fatal(err)
		}

		code, stdout, stderr := runRegistryValidate(t, path)
		want := fmt.Sprintf(`%s: document %d: Provider/default/slack: spec.type: unsupported value "carrier-pigeon": must be one of %s`,
			path, index, strings.Join(api.FluxProviderTypes, ", "))
		if code != 1 || stdout != "" || !slices.Contains(strings.Split(stderr, "\n"), want) {
			t.Errorf("exit %d, stdout %q\nstderr:\n%s\nwant exit 1 and the line\n%s", code, stdout, stderr, want)
		}
	})
}
