package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
)

// fluxTypes validates against Flux's provider list, so that these tests do
// not change as the notifier registry grows.
var fluxTypes = validateCommand{}

func runCmd(t *testing.T, c validateCommand, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = c.run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestValidateGoodFile(t *testing.T) {
	code, stdout, stderr := runCmd(t, fluxTypes, "-f", "testdata/good.yaml")
	want := `Provider/flux-system/slack: slack (secret: slack-url)
Provider/flux-system/generic-hmac: generic-hmac (secret: webhook-hmac)
Provider/flux-system/github-status: github (secret: github-token)
Alert/flux-system/on-call: 3 event sources → provider slack (errors only)
Alert/flux-system/podinfo-status: 1 event source → provider github-status
Receiver/flux-system/github-receiver: github, 1 resource
Secret/flux-system/slack-url: 1 key
Secret/flux-system/webhook-hmac: 1 key
Secret/flux-system/github-token: 1 key
Secret/flux-system/receiver-token: 1 key
`
	if code != 0 || stdout != want || stderr != "" {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, stdout, want, stderr)
	}
}

func TestValidateBrokenFile(t *testing.T) {
	code, stdout, stderr := runCmd(t, fluxTypes, "-f", "testdata/broken.yaml")
	const f = "testdata/broken.yaml: document "
	want := strings.Join([]string{
		f + `0: Provider/flux-system/slack: spec.chanel: unknown field (did you mean "channel"?)`,
		f + `0: Provider/flux-system/slack: spec.type: unsupported value "slak": must be one of ` + strings.Join(api.FluxProviderTypes, ", "),
		f + `1: Provider/flux-system/webhook: spec.timeout: invalid value "1h": must match ^([0-9]+(\.[0-9]+)?(ms|s|m))+$`,
		f + `1: Provider/flux-system/webhook: spec.secretRef.name: Secret "hmac-key" has no "token" key, the HMAC key of generic-hmac`,
		"warning: " + f + `1: Provider/flux-system/webhook: apiVersion: notification.toolkit.fluxcd.io/v1beta2 is served by Flux ≤1.8; Herald reads it as v1beta3`,
		f + `3: Alert/flux-system/on-call: spec.providerRef.name: Provider "pagerduty" not found in namespace "flux-system"`,
		f + `3: Alert/flux-system/on-call: spec.eventSeverity: unsupported value "warn": must be one of info, error`,
		f + `3: Alert/flux-system/on-call: spec.eventSources[0].kind: unsupported value "Deployment": must be one of Bucket, GitRepository, Kustomization, HelmRelease, HelmChart, HelmRepository, ImageRepository, ImagePolicy, ImageUpdateAutomation, OCIRepository, ArtifactGenerator, ExternalArtifact`,
		f + `3: Alert/flux-system/on-call: spec.eventSources[1].matchLabels[app]: invalid label value "web server": must be empty or at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
		f + `3: Alert/flux-system/on-call: spec.inclusionList[0]: invalid regular expression "(unclosed": missing closing )`,
		// Not also "spec.eventSources: required": the decoding error says it.
		f + `4: Alert/flux-system/all: spec.eventSources: expected a list, got a string`,
		f + `5: Receiver/flux-system/github: spec: secretRef is required when type is not generic-oidc`,
		f + `5: Receiver/flux-system/github: spec.resources[0]: matchLabels field not set when using wildcard '*' as name`,
		f + `5: Receiver/flux-system/github: spec.resources[0]: apiVersion must be specified for kind "Kustomization"`,
		f + `6: Kustomization/flux-system/apps: kind: unsupported value "Kustomization": must be one of Provider, Alert, Receiver, Secret`,
		f + `7: Provider/flux-system/slack: metadata.name: duplicate Provider/flux-system/slack: already defined in testdata/broken.yaml: document 0`,
		// Document 8 is empty but counted.
		f + `9: yaml: line 88: did not find expected ',' or ']'`,
		"herald validate: 16 errors, 1 warning",
	}, "\n") + "\n"
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}
}

func TestValidateWarningsAndPaths(t *testing.T) {
	dir := t.TempDir()
	doc := "apiVersion: notification.toolkit.fluxcd.io/v1beta2\nkind: Provider\nmetadata: {name: p, labels: {herald.io/cluster: prod}}\nspec: {type: generic, suspend: true}\n"
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, fluxTypes, "-f", dir)
	wantOut := "Provider/default/p: generic (cluster: prod, suspended)\n"
	wantErr := "warning: " + filepath.Join(dir, "p.yaml") + ": document 0: Provider/default/p: apiVersion: notification.toolkit.fluxcd.io/v1beta2 is served by Flux ≤1.8; Herald reads it as v1beta3\n"
	if code != 0 || stdout != wantOut || stderr != wantErr {
		t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", code, stdout, wantOut, stderr, wantErr)
	}

	code, _, stderr = runCmd(t, fluxTypes, "-f", "testdata/good.yaml", "-f", "testdata/missing.yaml")
	if want := "testdata/missing.yaml: no such file or directory\nherald validate: 1 error, 0 warnings\n"; code != 1 || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"-x"}, {"-f"}, {"-f", "testdata/good.yaml", "extra"}} {
		code, stdout, stderr := runCmd(t, fluxTypes, args...)
		if code != 2 || stdout != "" || !strings.Contains(stderr, "Usage: herald validate -f PATH") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, stdout, stderr)
		}
	}
	if code := runValidate([]string{"-h"}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Errorf("-h: exit %d", code)
	}
}

// No Secret value may reach the output, however the Secret is wrong.
func TestValidateNeverPrintsSecretValues(t *testing.T) {
	files := []string{"testdata/secrets.yaml", "testdata/good.yaml", "testdata/broken.yaml"}
	var out, errOut bytes.Buffer
	for _, f := range files {
		fluxTypes.run([]string{"-f", f}, &out, &errOut)
	}
	output := out.String() + errOut.String()
	if !strings.Contains(output, `Secret "main" key "headers" is not a YAML map of strings`) {
		t.Fatalf("secrets.yaml no longer exercises the secret checks:\n%s", output)
	}

	// Every value the files hold, decoded, plus the ones that fail to decode.
	values := []string{"leak", "bGVhay1iYXNlNjQtdmFsdWU=", "123456789"}
	cfg, _ := api.LoadPaths(files...)
	for _, s := range cfg.Secrets {
		for _, v := range s.Data {
			values = append(values, string(v))
		}
	}
	for _, v := range values {
		if len(v) >= 4 && strings.Contains(output, v) {
			t.Errorf("output contains Secret value %q:\n%s", v, output)
		}
	}
}

// A folder mixing Providers and Alerts of v1beta1, v1beta2, v1beta3 and v1
// validates; the older versions get their deprecation warnings only.
func TestValidateMixedVersions(t *testing.T) {
	code, stdout, stderr := runCmd(t, fluxTypes, "-f", "testdata/mixed-versions")
	if code != 0 || strings.Count(stdout, "\n") != 9 || !strings.Contains(stdout, "Provider/flux-system/mastodon: mastodon (secret: mastodon-token)\n") {
		t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for line := range strings.Lines(stderr) {
		if !strings.HasPrefix(line, "warning: ") || strings.Contains(line, "4-v1.yaml") {
			t.Errorf("stderr: %s", line)
		}
	}
}

// What v1 removed is an error in a v1 document, named by file, document,
// object and field.
func TestValidateV1RemovedFields(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v1.yaml")
	doc := `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Provider
metadata: {name: webhook, namespace: flux-system}
spec: {type: generic, address: "https://hooks.example.com", proxy: "http://proxy:3128"}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec:
  providerRef: {name: webhook}
  summary: prod-eu
  eventSources: [{kind: Kustomization, name: "*"}]
`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCmd(t, fluxTypes, "-f", file)
	for _, want := range []string{
		file + ": document 0: Provider/flux-system/webhook: spec.proxy: field not available in notification.toolkit.fluxcd.io/v1 (removed in notification.toolkit.fluxcd.io/v1: use spec.proxySecretRef)\n",
		file + ": document 1: Alert/flux-system/on-call: spec.summary: field not available in notification.toolkit.fluxcd.io/v1 (removed in notification.toolkit.fluxcd.io/v1: use spec.eventMetadata.summary)\n",
	} {
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr:\n%s\nwant the line:\n%s", code, stderr, want)
		}
	}
}

// TestValidateReceiverFilters: filters that do not compile are errors,
// with Flux's messages (InvalidCELExpression); ones that do pass.
func TestValidateReceiverFilters(t *testing.T) {
	const f = "testdata/bad-filters.yaml: document 2: Receiver/flux-system/broken: "
	want := strings.Join([]string{
		f + "spec.resourceFilter: invalid resourceFilter expression: failed to parse the CEL expression 'req.ref ==': ERROR: <input>:1:11: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}",
		" | req.ref ==",
		" | ..........^",
		f + `spec.resources[1].filter: invalid filter expression for resources[1] (kind="GitRepository", name="*"): failed to parse the CEL expression 'claims.sub == 'x'': ERROR: <input>:1:1: undeclared reference to 'claims'`,
		" | claims.sub == 'x'",
		" | ^",
		f + `spec.resources[2].filter: invalid filter expression for resources[2] (kind="OCIRepository", name="charts"): CEL expression output type mismatch: expected bool, got dyn`,
		"herald validate: 3 errors, 0 warnings",
	}, "\n") + "\n"
	code, stdout, stderr := runCmd(t, fluxTypes, "-f", "testdata/bad-filters.yaml")
	if code != 1 || stdout != "" || stderr != want {
		t.Errorf("exit %d, stdout %q\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, want)
	}

	// apply refuses them before it reaches AWS.
	code, stdout, stderr = herald(t, "apply", "-f", "testdata/bad-filters.yaml", "--table", "herald-test")
	wantApply := strings.Replace(want, "herald validate: 3 errors, 0 warnings", "herald apply: 3 errors, nothing applied", 1)
	if code != 1 || stdout != "" || stderr != wantApply {
		t.Errorf("apply: exit %d, stdout %q\nstderr:\n%s\nwant:\n%s", code, stdout, stderr, wantApply)
	}
}
