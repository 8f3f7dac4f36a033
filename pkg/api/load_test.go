package api

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// errorLines runs Decode and returns its errors one per line.
func errorLines(t *testing.T, file, doc string) []string {
	t.Helper()
	_, err := Decode(file, []byte(doc))
	if err == nil {
		return nil
	}
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("Decode returned %T, want ErrorList: %v", err, err)
	}
	return strings.Split(list.Error(), "\n")
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string
	}{{
		name: "misspelt nested field",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec:
  providerRef: {name: slack}
  eventSources:
    - kind: Kustomization
      nmae: apps
`,
		want: []string{`a.yaml: document 0: Alert/flux-system/on-call: spec.eventSources[0].nmae: unknown field (did you mean "name"?)`},
	}, {
		name: "wrong YAML types",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack}
spec:
  type: [slack]
  channel: 42
  suspend: "yes"
  secretRef: slack-url
`,
		want: []string{
			`a.yaml: document 0: Provider/default/slack: spec.type: expected a string, got a list`,
			`a.yaml: document 0: Provider/default/slack: spec.channel: expected a string, got an integer (quote the value to make it a string)`,
			`a.yaml: document 0: Provider/default/slack: spec.suspend: expected a boolean (true or false), got a string`,
			`a.yaml: document 0: Provider/default/slack: spec.secretRef: expected a mapping, got a string`,
		},
	}, {
		name: "unknown kind",
		doc:  "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}\n",
		want: []string{`a.yaml: document 0: Kustomization/flux-system/apps: kind: unsupported value "Kustomization": must be one of Provider, Alert, Receiver, Secret`},
	}, {
		name: "unknown apiVersion",
		doc:  "apiVersion: notification.toolkit.fluxcd.io/v2\nkind: Alert\nmetadata: {name: a}\nspec: {providerRef: {name: p}, eventSources: []}\n",
		want: []string{`a.yaml: document 0: Alert/default/a: apiVersion: unsupported value "notification.toolkit.fluxcd.io/v2": Alert must be one of notification.toolkit.fluxcd.io/v1beta1, notification.toolkit.fluxcd.io/v1beta2, notification.toolkit.fluxcd.io/v1beta3, notification.toolkit.fluxcd.io/v1`},
	}, {
		name: "missing apiVersion and kind",
		doc:  "kind: Secret\nmetadata: {name: s}\n---\nmetadata: {name: t}\n",
		want: []string{
			`a.yaml: document 0: Secret/default/s: apiVersion: required`,
			`a.yaml: document 1: kind: required`,
		},
	}, {
		name: "document that is not an object",
		doc:  "- a\n- b\n",
		want: []string{`a.yaml: document 0: expected a Kubernetes object (a mapping), got a list`},
	}, {
		name: "fields newer than the document's version",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta1
kind: Alert
metadata: {name: a, namespace: ns}
spec:
  providerRef: {name: p}
  eventSources: [{kind: Bucket, name: b}]
  inclusionList: [x]
  eventMetadata: {env: prod}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: p, namespace: ns}
spec: {type: github, commitStatusExpr: "'x'"}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Receiver
metadata: {name: r, namespace: ns}
spec:
  type: generic
  resources: [{kind: Bucket, name: b, filter: "true"}]
`,
		want: []string{
			`a.yaml: document 0: Alert/ns/a: spec.inclusionList: field not available in notification.toolkit.fluxcd.io/v1beta1 (added in notification.toolkit.fluxcd.io/v1beta2)`,
			`a.yaml: document 0: Alert/ns/a: spec.eventMetadata: field not available in notification.toolkit.fluxcd.io/v1beta1 (added in notification.toolkit.fluxcd.io/v1beta2)`,
			`a.yaml: document 1: Provider/ns/p: spec.commitStatusExpr: field not available in notification.toolkit.fluxcd.io/v1beta2 (added in notification.toolkit.fluxcd.io/v1beta3)`,
			`a.yaml: document 2: Receiver/ns/r: spec.resources[0].filter: field not available in notification.toolkit.fluxcd.io/v1beta2 (added in notification.toolkit.fluxcd.io/v1)`,
		},
	}, {
		// Flux's v1 CRDs (api v1.10.0) dropped these fields; the older
		// versions keep them (TestRemovedFieldsKeepWorkingInOlderVersions).
		name: "fields removed in v1",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Alert
metadata: {name: a, namespace: ns}
spec:
  providerRef: {name: p}
  summary: prod
  eventSources: [{kind: Bucket, name: b}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Provider
metadata: {name: p, namespace: ns}
spec: {type: generic, interval: 5m, proxy: "http://proxy:3128"}
`,
		want: []string{
			`a.yaml: document 0: Alert/ns/a: spec.summary: field not available in notification.toolkit.fluxcd.io/v1 (removed in notification.toolkit.fluxcd.io/v1: use spec.eventMetadata.summary)`,
			`a.yaml: document 1: Provider/ns/p: spec.interval: field not available in notification.toolkit.fluxcd.io/v1 (removed in notification.toolkit.fluxcd.io/v1: it was never used; delete it)`,
			`a.yaml: document 1: Provider/ns/p: spec.proxy: field not available in notification.toolkit.fluxcd.io/v1 (removed in notification.toolkit.fluxcd.io/v1: use spec.proxySecretRef)`,
		},
	}, {
		name: "duplicate and merge keys",
		doc:  "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nbase: &b {x: y}\ntype: Opaque\ntype: Opaque\nstringData:\n  <<: *b\n",
		want: []string{
			`a.yaml: document 0: Secret/default/s: base: unknown field`,
			`a.yaml: document 0: Secret/default/s: type: duplicate key`,
			`a.yaml: document 0: Secret/default/s: stringData.<<: YAML merge keys are not supported`,
		},
	}, {
		name: "bad base64 is reported without the value",
		doc:  "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata:\n  token: not-base64!\n",
		want: []string{`a.yaml: document 0: Secret/default/s: data[token]: not valid base64 (put plain text under stringData)`},
	}, {
		name: "syntax error stops the file at its document",
		doc:  "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n---\nkind: [\n",
		want: []string{`a.yaml: document 1: yaml: line 5: did not find expected node content`},
	}, {
		name: "list items",
		doc:  "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: s}\n  dta: {}\n",
		want: []string{`a.yaml: document 0: Secret/default/s: items[0].dta: unknown field (did you mean "data"?)`},
	}, {
		name: "exported objects: status and server-set metadata are ignored",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: p
  uid: 0c9c2e41-d2f9-4f9b-9c4b-7b0a2a0f0e11
  resourceVersion: "123"
  generation: 2
  creationTimestamp: "2024-01-01T00:00:00Z"
  finalizers: [finalizers.fluxcd.io]
  managedFields: [{manager: kubectl}]
spec: {type: slack}
status: {conditions: []}
`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := errorLines(t, "a.yaml", tt.doc)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestLoadPathsTree(t *testing.T) {
	cfg, err := LoadPaths(filepath.Join("testdata", "tree"))
	if err != nil {
		t.Fatal(err)
	}
	tree := func(p string) string { return filepath.Join("testdata", "tree", p) }
	sources := map[string]Source{}
	for _, p := range cfg.Providers {
		sources[Ref(KindProvider, p.Metadata)] = p.Source
	}
	for _, a := range cfg.Alerts {
		sources[Ref(KindAlert, a.Metadata)] = a.Source
	}
	for _, r := range cfg.Receivers {
		sources[Ref(KindReceiver, r.Metadata)] = r.Source
	}
	for _, s := range cfg.Secrets {
		sources[Ref(KindSecret, s.Metadata)] = s.Source
	}
	// Hidden files and directories and non-manifest files are not read;
	// the empty document in providers.yaml keeps its index.
	want := map[string]Source{
		"Provider/flux-system/slack":   {File: tree("providers.yaml"), Index: 0},
		"Secret/flux-system/slack-url": {File: tree("providers.yaml"), Index: 2},
		"Alert/default/on-call":        {File: tree("sub/alerts.yml"), Index: 0},
		"Receiver/flux-system/github":  {File: tree("sub/receiver.json"), Index: 0},
	}
	if !reflect.DeepEqual(sources, want) {
		t.Errorf("objects and sources:\n%v\nwant:\n%v", sources, want)
	}
	s := cfg.Secrets[0]
	if got := string(s.Data["address"]); got != "https://hooks.slack.com/services/T00/B00/XXX" {
		t.Errorf("data is base64-decoded: got %q", got)
	}
	if got := string(s.Data["channel"]); got != "ops" {
		t.Errorf("stringData wins over data: got channel %q", got)
	}
	if got := cfg.Receivers[0].Spec.Resources[0].Kind; got != "GitRepository" {
		t.Errorf("inlined reference fields are decoded: kind %q", got)
	}
}

func TestLoadPathsMissingAndExplicitFile(t *testing.T) {
	_, err := LoadPaths(filepath.Join("testdata", "nope"))
	if got, want := err.Error(), "testdata/nope: no such file or directory"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
	// A file named explicitly is read even when hidden or oddly named.
	_, err = LoadPaths(filepath.Join("testdata", "tree", ".skipped.yaml"))
	if got, want := err.Error(), "testdata/tree/.skipped.yaml: document 0: Hidden/default/(unnamed): kind: unsupported value \"Hidden\": must be one of Provider, Alert, Receiver, Secret"; got != want {
		t.Errorf("error %q, want %q", got, want)
	}
}

// Aliases let a few kilobytes name millions of nodes; decoding must stop
// at its budget instead of expanding them all.
func TestDecodeAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: a}\nlabels: &l {")
	for i := range 2000 {
		fmt.Fprintf(&b, "k%d: v, ", i)
	}
	b.WriteString("}\nsrc: &s {kind: Bucket, name: b, matchLabels: *l}\nspec:\n  eventSources: [")
	b.WriteString(strings.Repeat("*s, ", 2000))
	b.WriteString("]\n")
	// Unbounded, the expansion is 4 million map entries; bounded, it stops
	// early. The limit only catches the unbounded case: it leaves room for
	// the race detector on a busy 2-core machine, where the bounded decode
	// has taken 6 s.
	start := time.Now()
	lines := errorLines(t, "a.yaml", b.String())
	if time.Since(start) > time.Minute {
		t.Errorf("decoding took %v", time.Since(start))
	}
	want := "document too large after expanding aliases"
	if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasSuffix(l, want) }) {
		t.Errorf("no %q among the %d errors", want, len(lines))
	}
}

// The fields v1 removed still load, without error, in every older version
// that has them.
func TestRemovedFieldsKeepWorkingInOlderVersions(t *testing.T) {
	for _, version := range []string{"v1beta1", "v1beta2", "v1beta3"} {
		interval := "  interval: 5m\n"
		if version == "v1beta1" {
			interval = "" // Provider v1beta1 never had it
		}
		doc := "apiVersion: notification.toolkit.fluxcd.io/" + version + `
kind: Alert
metadata: {name: a, namespace: ns}
spec:
  providerRef: {name: p}
  summary: prod
  eventSources: [{kind: Bucket, name: b}]
---
apiVersion: notification.toolkit.fluxcd.io/` + version + `
kind: Provider
metadata: {name: p, namespace: ns}
spec:
  type: generic
  proxy: "http://proxy:3128"
` + interval
		cfg, err := Decode("a.yaml", []byte(doc))
		if err != nil {
			t.Errorf("%s: %v", version, err)
			continue
		}
		if cfg.Alerts[0].Spec.Summary != "prod" || cfg.Providers[0].Spec.Proxy != "http://proxy:3128" {
			t.Errorf("%s: summary %q, proxy %q", version, cfg.Alerts[0].Spec.Summary, cfg.Providers[0].Spec.Proxy)
		}
	}
}
