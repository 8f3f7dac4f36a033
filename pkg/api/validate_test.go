package api

import (
	"reflect"
	"strings"
	"testing"
)

func lines(errs []error) []string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Error())
	}
	return out
}

// validateDoc decodes doc, which must decode cleanly, and validates it.
func validateDoc(t *testing.T, doc string, opts ValidateOptions) (warnings, errs []string) {
	t.Helper()
	cfg, err := Decode("f.yaml", []byte(doc))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	res := Validate(cfg, opts)
	return lines(res.Warnings), lines(res.Errors)
}

const (
	slackSecret = `apiVersion: v1
kind: Secret
metadata: {name: slack-url, namespace: flux-system}
stringData: {address: "https://hooks.slack.com/services/T/B/X"}
`
	slackProvider = `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: flux-system}
spec: {type: slack, secretRef: {name: slack-url}}
`
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		opts     ValidateOptions
		errs     []string
		warnings []string
	}{{
		name: "event severity",
		doc: slackProvider + "---\n" + slackSecret + `---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec:
  providerRef: {name: slack}
  eventSeverity: warn
  eventSources: [{kind: Kustomization, name: '*'}]
`,
		errs: []string{`f.yaml: document 2: Alert/flux-system/on-call: spec.eventSeverity: unsupported value "warn": must be one of info, error`},
	}, {
		name: "provider fields",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: p, namespace: ns}
spec:
  type: slak
  channel: ` + strings.Repeat("c", 2049) + `
  proxy: socks5://proxy:1080
  timeout: "15"
  commitStatusExpr: "'x'"
---
apiVersion: notification.toolkit.fluxcd.io/v1beta2
kind: Provider
metadata: {name: q, namespace: ns}
spec: {type: generic, timeout: 1h, interval: 1d}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: r, namespace: ns}
spec: {type: gitlab, address: "https://gitlab.com/org/app"}
`,
		errs: []string{
			`f.yaml: document 0: Provider/ns/p: spec.type: unsupported value "slak": must be one of ` + strings.Join(FluxProviderTypes, ", "),
			`f.yaml: document 0: Provider/ns/p: spec.channel: must be at most 2048 characters, has 2049`,
			`f.yaml: document 0: Provider/ns/p: spec.proxy: must match ^(http|https)://.*$`,
			`f.yaml: document 0: Provider/ns/p: spec.timeout: invalid value "15": must match ^([0-9]+(\.[0-9]+)?(ms|s|m))+$`,
			`f.yaml: document 0: Provider/ns/p: spec: spec.commitStatusExpr is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types`,
			`f.yaml: document 1: Provider/ns/q: spec.timeout: invalid value "1h": must match ^([0-9]+(\.[0-9]+)?(ms|s|m))+$`,
			`f.yaml: document 1: Provider/ns/q: spec.interval: invalid value "1d": must match ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`,
		},
		warnings: []string{
			`f.yaml: document 0: Provider/ns/p: spec.proxy: deprecated: use spec.proxySecretRef`,
			`f.yaml: document 1: Provider/ns/q: apiVersion: notification.toolkit.fluxcd.io/v1beta2 is served by Flux ≤1.8; Herald reads it as v1beta3`,
			`f.yaml: document 1: Provider/ns/q: spec.interval: deprecated and unused`,
		},
	}, {
		name: "flux provider types by default",
		doc:  "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Provider\nmetadata: {name: p}\nspec: {type: email}\n",
		errs: []string{`f.yaml: document 0: Provider/default/p: spec.type: unsupported value "email": must be one of ` + strings.Join(FluxProviderTypes, ", ")},
	}, {
		name: "alert fields",
		doc: slackProvider + `---
apiVersion: notification.toolkit.fluxcd.io/v1beta1
kind: Alert
metadata: {name: a, namespace: flux-system}
spec:
  providerRef: {name: ""}
  summary: ` + strings.Repeat("s", 256) + `
  eventSources: []
  exclusionList: ["(", "ok"]
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: b, namespace: flux-system}
spec:
  providerRef: {name: teams}
  eventSources:
    - {kind: Deployment, name: x}
    - {kind: HelmRelease, name: ""}
    - {kind: Kustomization, name: '*', matchLabels: {"bad key": "v", app: "a b"}}
  inclusionList: ["[a-"]
`,
		errs: []string{
			`f.yaml: document 0: Provider/flux-system/slack: spec.secretRef.name: Secret "slack-url" not found in namespace "flux-system"`,
			`f.yaml: document 1: Alert/flux-system/a: spec.providerRef.name: required`,
			`f.yaml: document 1: Alert/flux-system/a: spec.eventSources: required`,
			`f.yaml: document 1: Alert/flux-system/a: spec.exclusionList[0]: invalid regular expression "(": missing closing )`,
			`f.yaml: document 1: Alert/flux-system/a: spec.summary: must be at most 255 characters, has 256`,
			`f.yaml: document 2: Alert/flux-system/b: spec.providerRef.name: Provider "teams" not found in namespace "flux-system"`,
			`f.yaml: document 2: Alert/flux-system/b: spec.eventSources[0].kind: unsupported value "Deployment": must be one of Bucket, GitRepository, Kustomization, HelmRelease, HelmChart, HelmRepository, ImageRepository, ImagePolicy, ImageUpdateAutomation, OCIRepository, ArtifactGenerator, ExternalArtifact`,
			`f.yaml: document 2: Alert/flux-system/b: spec.eventSources[1].name: required`,
			`f.yaml: document 2: Alert/flux-system/b: spec.eventSources[2].matchLabels[app]: invalid label value "a b": must be empty or at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
			`f.yaml: document 2: Alert/flux-system/b: spec.eventSources[2].matchLabels[bad key]: invalid label key "bad key": the name must be at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
			`f.yaml: document 2: Alert/flux-system/b: spec.inclusionList[0]: invalid regular expression "[a-": missing closing ]`,
		},
		warnings: []string{
			`f.yaml: document 1: Alert/flux-system/a: apiVersion: notification.toolkit.fluxcd.io/v1beta1 is no longer served by Flux; Herald reads it as v1beta3`,
			`f.yaml: document 1: Alert/flux-system/a: spec.summary: deprecated: use spec.eventMetadata.summary`,
		},
	}, {
		name: "receiver rules",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: a, namespace: ns}
spec:
  type: github
  resources:
    - {kind: GitRepository, name: '*'}
    - {kind: Kustomization, name: apps}
    - {apiVersion: kustomize.toolkit.fluxcd.io/v1, kind: Kustomization, name: apps}
  oidcProviders: [{issuerURL: "https://token.actions.githubusercontent.com", validations: [{expression: "true", message: m}]}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: b, namespace: ns}
spec:
  type: generic-oidc
  secretRef: {name: s}
  resources: []
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: c, namespace: ns}
spec:
  type: generic-oidc
  resources: [{kind: Bucket, name: b}]
  oidcProviders:
    - {issuerURL: "token.example.com"}
    - issuerURL: https://a.example.com
      variables: [{name: v}]
      validations: [{expression: "true"}]
    - {issuerURL: https://a.example.com, validations: [{expression: "true", message: m}]}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: d, namespace: ns}
spec: {type: jenkins, resources: [{kind: Bucket, name: b}]}
`,
		errs: []string{
			`f.yaml: document 0: Receiver/ns/a: spec: oidcProviders can only be set when type is generic-oidc`,
			`f.yaml: document 0: Receiver/ns/a: spec: secretRef is required when type is not generic-oidc`,
			`f.yaml: document 0: Receiver/ns/a: spec.resources[0]: matchLabels field not set when using wildcard '*' as name`,
			`f.yaml: document 0: Receiver/ns/a: spec.resources[1]: apiVersion must be specified for kind "Kustomization"`,
			`f.yaml: document 1: Receiver/ns/b: spec: generic-oidc receivers must define at least one oidcProvider`,
			`f.yaml: document 1: Receiver/ns/b: spec: secretRef cannot be set when type is generic-oidc`,
			`f.yaml: document 1: Receiver/ns/b: spec.resources: required`,
			`f.yaml: document 2: Receiver/ns/c: spec.oidcProviders[0].issuerURL: invalid value "token.example.com": must start with http:// or https://`,
			`f.yaml: document 2: Receiver/ns/c: spec.oidcProviders[0].validations: required: at least one validation must constrain the caller`,
			`f.yaml: document 2: Receiver/ns/c: spec.oidcProviders[1].variables[0].expression: required`,
			`f.yaml: document 2: Receiver/ns/c: spec.oidcProviders[1].validations[0].message: required`,
			`f.yaml: document 2: Receiver/ns/c: spec.oidcProviders[2].issuerURL: duplicate value "https://a.example.com"`,
			`f.yaml: document 3: Receiver/ns/d: spec.type: unsupported value "jenkins": must be one of acr, bitbucket, cdevents, dockerhub, gcr, generic, generic-hmac, generic-oidc, github, gitlab, harbor, nexus, quay`,
			`f.yaml: document 3: Receiver/ns/d: spec: secretRef is required when type is not generic-oidc`,
		},
	}, {
		name: "metadata and duplicates",
		doc: `apiVersion: v1
kind: Secret
metadata: {name: Slack_URL, namespace: Flux}
---
apiVersion: v1
kind: Secret
metadata: {namespace: ns, labels: {herald.io/cluster: "prod eu"}}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: ns}
stringData: {"a b": x}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: ns}
---
apiVersion: v1
kind: Secret
metadata: {name: s, namespace: ns, labels: {herald.io/cluster: prod}}
`,
		errs: []string{
			`f.yaml: document 0: Secret/Flux/Slack_URL: metadata.name: invalid value "Slack_URL": must be a lowercase RFC 1123 subdomain: at most 253 characters of 'a-z', '0-9', '-' and '.', starting and ending with a letter or digit`,
			`f.yaml: document 0: Secret/Flux/Slack_URL: metadata.namespace: invalid value "Flux": must be a lowercase RFC 1123 label: at most 63 characters of 'a-z', '0-9' and '-', starting and ending with a letter or digit`,
			`f.yaml: document 1: Secret/ns/(unnamed): metadata.name: required`,
			`f.yaml: document 1: Secret/ns/(unnamed): metadata.labels[herald.io/cluster]: invalid label value "prod eu": must be empty or at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit`,
			`f.yaml: document 2: Secret/ns/s: data: invalid key "a b": must be at most 253 characters of letters, digits, '-', '_' and '.'`,
			`f.yaml: document 3: Secret/ns/s: metadata.name: duplicate Secret/ns/s: already defined in f.yaml: document 2`,
		},
	}, {
		name: "references across cluster scopes",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: ns, labels: {herald.io/cluster: prod}}
spec: {type: slack}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: all, namespace: ns}
spec: {providerRef: {name: slack}, eventSources: [{kind: Bucket, name: b}]}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: dev, namespace: ns, labels: {herald.io/cluster: dev}}
spec: {providerRef: {name: slack}, eventSources: [{kind: Bucket, name: b}]}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: prod, namespace: ns, labels: {herald.io/cluster: prod}}
spec: {providerRef: {name: slack}, eventSources: [{kind: Bucket, name: b}]}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: other-ns, namespace: other}
spec: {providerRef: {name: slack}, eventSources: [{kind: Bucket, name: b, namespace: ns}]}
`,
		errs: []string{
			`f.yaml: document 1: Alert/ns/all: spec.providerRef.name: Provider "slack" in namespace "ns" exists only for cluster "prod", but this Alert applies to every cluster`,
			`f.yaml: document 2: Alert/ns/dev: spec.providerRef.name: Provider "slack" in namespace "ns" exists only for cluster "prod", not for cluster "dev"`,
			`f.yaml: document 4: Alert/other/other-ns: spec.providerRef.name: Provider "slack" not found in namespace "other"`,
		},
	}, {
		name: "secrets Flux reads",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: hmac, namespace: ns}
spec: {type: generic-hmac}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: hmac2, namespace: ns}
spec:
  type: generic-hmac
  secretRef: {name: basic}
  certSecretRef: {name: tls}
  proxySecretRef: {name: proxy}
---
apiVersion: v1
kind: Secret
metadata: {name: basic, namespace: ns}
stringData: {username: u, proxy: "http://proxy:8080", headers: "- a"}
---
apiVersion: v1
kind: Secret
metadata: {name: tls, namespace: ns}
stringData: {tls.crt: c, caFile: x}
---
apiVersion: v1
kind: Secret
metadata: {name: proxy, namespace: ns}
stringData: {address: "ftp://proxy"}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: gcr, namespace: ns}
spec: {type: gcr, secretRef: {name: basic}, resources: [{kind: ImageRepository, name: app}]}
`,
		errs: []string{
			`f.yaml: document 0: Provider/ns/hmac: spec.secretRef: required for type generic-hmac: its token key is the HMAC key`,
			`f.yaml: document 1: Provider/ns/hmac2: spec.secretRef.name: Secret "basic" has no "token" key, the HMAC key of generic-hmac`,
			`f.yaml: document 1: Provider/ns/hmac2: spec.secretRef.name: Secret "basic" key "headers" is not a YAML map of strings`,
			`f.yaml: document 1: Provider/ns/hmac2: spec.certSecretRef.name: Secret "tls" must have both "tls.crt" and "tls.key", or neither`,
			`f.yaml: document 1: Provider/ns/hmac2: spec.proxySecretRef.name: Secret "proxy" key "address" must be an http, https or socks5 URL`,
			`f.yaml: document 5: Receiver/ns/gcr: spec.secretRef.name: Secret "basic" has no "token" key`,
			`f.yaml: document 5: Receiver/ns/gcr: spec.secretRef.name: Secret "basic" has no "email" key`,
			`f.yaml: document 5: Receiver/ns/gcr: spec.secretRef.name: Secret "basic" has no "audience" key`,
		},
		warnings: []string{
			`f.yaml: document 1: Provider/ns/hmac2: spec.secretRef.name: Secret "basic" key "proxy" is deprecated: use spec.proxySecretRef`,
			`f.yaml: document 1: Provider/ns/hmac2: spec.secretRef.name: Secret "basic" has only one of "username" and "password"; Flux then ignores its token, username and password`,
			`f.yaml: document 1: Provider/ns/hmac2: spec.certSecretRef.name: Secret "tls" key "caFile" is deprecated: use ca.crt, tls.crt and tls.key`,
		},
	}, {
		name: "azuredevops without a token would need AKS workload identity",
		doc: `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: ado, namespace: ns}
spec: {type: azuredevops, address: "https://dev.azure.com/org/project/_git/repo"}
`,
		warnings: []string{
			`f.yaml: document 0: Provider/ns/ado: spec.secretRef: required by Herald: without a secret holding a personal access token (key token), Flux uses AKS workload identity, which Herald cannot use since it does not run in AKS; deliveries fail`,
		},
	}, {
		name: "external secrets need not be in the set",
		doc:  slackProvider,
		opts: ValidateOptions{ExternalSecrets: true},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			warnings, errs := validateDoc(t, tt.doc, tt.opts)
			if !reflect.DeepEqual(errs, tt.errs) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(tt.errs, "\n"))
			}
			if !reflect.DeepEqual(warnings, tt.warnings) {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(warnings, "\n"), strings.Join(tt.warnings, "\n"))
			}
		})
	}
}

// mastodon is in the type enum of Flux's v1 Provider only (api v1.10.0):
// the API server refuses it in the older versions it still serves.
func TestMastodonNeedsV1(t *testing.T) {
	doc := func(version string) string {
		return "apiVersion: notification.toolkit.fluxcd.io/" + version + `
kind: Provider
metadata: {name: m, namespace: ns}
spec: {type: mastodon, address: "https://mastodon.social"}
`
	}
	if warnings, errs := validateDoc(t, doc("v1"), ValidateOptions{}); len(warnings)+len(errs) > 0 {
		t.Errorf("v1: warnings %q, errors %q", warnings, errs)
	}
	for _, version := range []string{"v1beta1", "v1beta2", "v1beta3"} {
		_, errs := validateDoc(t, doc(version), ValidateOptions{})
		want := []string{`f.yaml: document 0: Provider/ns/m: spec.type: unsupported value "mastodon" in notification.toolkit.fluxcd.io/` +
			version + `: the type needs notification.toolkit.fluxcd.io/v1`}
		if !reflect.DeepEqual(errs, want) {
			t.Errorf("%s: errors\n%q\nwant\n%q", version, errs, want)
		}
	}
}

// A v1 document with a removed field gets the loader's error only, not
// also the deprecation warning the older versions get.
func TestRemovedFieldsAreNotAlsoDeprecated(t *testing.T) {
	cfg, err := Decode("f.yaml", []byte(`apiVersion: notification.toolkit.fluxcd.io/v1
kind: Provider
metadata: {name: p, namespace: ns}
spec: {type: generic, address: "https://example.com", proxy: "http://proxy:3128", interval: 5m}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Alert
metadata: {name: a, namespace: ns}
spec:
  providerRef: {name: p}
  summary: prod
  eventSources: [{kind: Bucket, name: b}]
`))
	if err == nil {
		t.Fatal("Decode accepted removed fields in v1")
	}
	res := Validate(cfg, ValidateOptions{})
	if len(res.Warnings)+len(res.Errors) > 0 {
		t.Errorf("warnings %q, errors %q", lines(res.Warnings), lines(res.Errors))
	}
	// The same fields in v1beta3 load and are deprecated.
	cfg, err = Decode("f.yaml", []byte(`apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: p, namespace: ns}
spec: {type: generic, address: "https://example.com", proxy: "http://proxy:3128", interval: 5m}
`))
	if err != nil {
		t.Fatal(err)
	}
	if got := lines(Validate(cfg, ValidateOptions{}).Warnings); len(got) != 2 {
		t.Errorf("v1beta3 warnings %q, want the two deprecations", got)
	}
}
