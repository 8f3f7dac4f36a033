package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/awstest"
	"github.com/heraldhq/herald/internal/dynamotest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

const applyManifests = `apiVersion: v1
kind: Secret
metadata: {name: slack-url, namespace: flux-system}
stringData:
  address: https://hooks.slack.com/services/T000/B000/very-secret-path
---
apiVersion: v1
kind: Secret
metadata: {name: github-token, namespace: flux-system}
stringData:
  token: gh-webhook-s3cr3t
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: flux-system}
spec:
  type: slack
  channel: general
  secretRef: {name: slack-url}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec:
  providerRef: {name: slack}
  eventSeverity: error
  eventSources:
    - {kind: Kustomization, name: "*"}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: github, namespace: flux-system}
spec:
  type: github
  events: [push]
  secretRef: {name: github-token}
  resources:
    - {kind: GitRepository, name: podinfo}
`

// herald runs the CLI as a user would, against DynamoDB Local and the
// Secrets Manager double, configured only through the standard AWS
// environment variables.
func herald(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestApplyGetHookURLDelete(t *testing.T) {
	ddb := dynamotest.Shared(t)
	table := dynamotest.TableName(t)
	if err := dynamo.CreateTable(context.Background(), ddb.Client(), table); err != nil {
		t.Fatal(err)
	}
	sm := awstest.NewSecretsManager(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "herald") // DynamoDB Local keeps one database per access key
	t.Setenv("AWS_SECRET_ACCESS_KEY", "herald")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HERALD_TABLE", table)

	dir := t.TempDir()
	file := filepath.Join(dir, "herald.yaml")
	if err := os.WriteFile(file, []byte(applyManifests), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := herald(t, "apply", "-f", file)
	if code != 0 {
		t.Fatalf("apply: exit %d\n%s", code, errOut)
	}
	want := "Secret/flux-system/slack-url created\nSecret/flux-system/github-token created\n" +
		"Provider/flux-system/slack created\nAlert/flux-system/on-call created\nReceiver/flux-system/github created\n"
	if out != want {
		t.Fatalf("apply printed:\n%s\nwant:\n%s", out, want)
	}
	for _, secret := range []string{"very-secret-path", "gh-webhook-s3cr3t"} {
		if strings.Contains(out+errOut, secret) {
			t.Fatalf("apply printed a secret value")
		}
	}
	if v, ok := sm.Value("herald/flux-system/slack-url"); !ok || !strings.Contains(v, "very-secret-path") {
		t.Fatalf("the Secret did not reach Secrets Manager: %q", v)
	}

	// Idempotent: nothing changed, nothing written.
	if code, out, errOut = herald(t, "apply", "-f", file); code != 0 || strings.Count(out, " unchanged\n") != 5 {
		t.Fatalf("second apply: exit %d\n%s%s", code, out, errOut)
	}
	changed := strings.Replace(applyManifests, "channel: general", "channel: alerts", 1)
	if err := os.WriteFile(file, []byte(changed), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ = herald(t, "apply", "-f", file); code != 0 || !strings.Contains(out, "Provider/flux-system/slack configured\n") || strings.Count(out, " unchanged\n") != 4 {
		t.Fatalf("apply after a change: exit %d\n%s", code, out)
	}

	code, out, errOut = herald(t, "get", "providers", "-n", "flux-system", "-o", "json")
	if code != 0 {
		t.Fatalf("get: exit %d %s", code, errOut)
	}
	var list struct {
		Items []struct {
			Metadata struct{ Name string }
			Spec     struct{ Type, Channel string }
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Items) != 1 || list.Items[0].Spec.Channel != "alerts" {
		t.Fatalf("get -o json: %v\n%s", err, out)
	}
	if code, out, _ = herald(t, "get", "alerts"); code != 0 || !strings.Contains(out, "flux-system   on-call") {
		t.Fatalf("get alerts table: exit %d\n%s", code, out)
	}

	code, out, errOut = herald(t, "hook-url", "github", "-n", "flux-system", "--api-url", "https://abc.execute-api.eu-west-1.amazonaws.com/")
	wantURL := "https://abc.execute-api.eu-west-1.amazonaws.com" + receiver.Path([]byte("gh-webhook-s3cr3t"), "github", "flux-system") + "\n"
	if code != 0 || out != wantURL {
		t.Fatalf("hook-url: exit %d %q %s, want %q", code, out, errOut, wantURL)
	}

	if code, out, _ = herald(t, "delete", "alert", "on-call", "-n", "flux-system"); code != 0 || out != "Alert/flux-system/on-call deleted\n" {
		t.Fatalf("delete: exit %d %q", code, out)
	}
	if code, _, errOut = herald(t, "delete", "alert", "on-call", "-n", "flux-system"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("second delete: exit %d %q", code, errOut)
	}
}

func TestApplyRefusesInvalidManifestsBeforeWriting(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "bad.yaml")
	bad := strings.Replace(applyManifests, "eventSeverity: error", "eventSeverity: loud", 1)
	if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	// No AWS settings at all: validation must fail first.
	t.Setenv("HERALD_TABLE", "unused")
	code, out, errOut := herald(t, "apply", "-f", file)
	if code != 1 || out != "" || !strings.Contains(errOut, `bad.yaml: document 3: Alert/flux-system/on-call: spec.eventSeverity`) ||
		!strings.Contains(errOut, "nothing applied") {
		t.Fatalf("exit %d\nstdout %q\nstderr %s", code, out, errOut)
	}
}

func TestCLIUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"get"}, {"get", "widgets"}, {"get", "providers", "-o", "xml"},
		{"delete", "provider"}, {"hook-url"}, {"apply"}, {"nope"},
	} {
		if code, _, errOut := herald(t, args...); code != 2 || errOut == "" {
			t.Errorf("herald %v: exit %d, stderr %q; want 2 with a message", args, code, errOut)
		}
	}
}

// herald apply takes a folder mixing v1beta1 to v1; herald get prints each
// object in the version it was applied in, or, with --api-version v1, as v1,
// saying on stderr what the conversion carried over or dropped.
func TestApplyGetMixedVersions(t *testing.T) {
	ddb := dynamotest.Shared(t)
	table := dynamotest.TableName(t)
	if err := dynamo.CreateTable(context.Background(), ddb.Client(), table); err != nil {
		t.Fatal(err)
	}
	sm := awstest.NewSecretsManager(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "herald")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "herald")
	t.Setenv("AWS_ENDPOINT_URL_DYNAMODB", ddb.Endpoint)
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HERALD_TABLE", table)

	if code, out, errOut := herald(t, "apply", "-f", "testdata/mixed-versions"); code != 0 || strings.Count(out, " created\n") != 9 {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}

	code, out, errOut := herald(t, "get", "providers", "-o", "yaml")
	if code != 0 || errOut != "" {
		t.Fatalf("get: exit %d %s", code, errOut)
	}
	got := versionsByName(t, out)
	want := map[string]string{
		"mastodon": "notification.toolkit.fluxcd.io/v1",
		"slack":    "notification.toolkit.fluxcd.io/v1beta1",
		"webhook":  "notification.toolkit.fluxcd.io/v1beta2",
	}
	if !maps.Equal(got, want) || !strings.Contains(out, `"interval": "10m"`) {
		t.Errorf("get -o yaml: versions %v, want %v\n%s", got, want, out)
	}

	code, out, errOut = herald(t, "get", "providers", "-o", "yaml", "--api-version", "v1")
	for name, version := range versionsByName(t, out) {
		if version != api.V1 {
			t.Errorf("get --api-version v1: %s is %s", name, version)
		}
	}
	if code != 0 || strings.Contains(out, "interval") {
		t.Errorf("get --api-version v1: exit %d\n%s", code, out)
	}
	if want := "herald get: Provider/flux-system/webhook: spec.interval dropped: v1 has no such field, and it was never used\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}

	code, out, errOut = herald(t, "get", "alerts", "-o", "json", "--api-version", "notification.toolkit.fluxcd.io/v1")
	var list struct {
		Items []struct {
			APIVersion string
			Metadata   struct{ Name string }
			Spec       map[string]any
		}
	}
	if err := json.Unmarshal([]byte(out), &list); code != 0 || err != nil || len(list.Items) != 4 {
		t.Fatalf("get alerts -o json: exit %d %v\n%s", code, err, out)
	}
	for _, a := range list.Items {
		md, _ := a.Spec["eventMetadata"].(map[string]any)
		if _, has := a.Spec["summary"]; a.APIVersion != api.V1 || has || a.Metadata.Name != "webhook" && md["summary"] == nil {
			t.Errorf("alert %s as v1: %s %v", a.Metadata.Name, a.APIVersion, a.Spec)
		}
	}
	if strings.Count(errOut, "spec.summary moved to spec.eventMetadata.summary\n") != 2 {
		t.Errorf("stderr %q", errOut)
	}

	if code, _, errOut = herald(t, "get", "alerts", "--api-version", "v1beta3"); code != 2 || !strings.Contains(errOut, "want v1") {
		t.Errorf("--api-version v1beta3: exit %d %q", code, errOut)
	}
}

// versionsByName reads the documents of herald get -o yaml.
func versionsByName(t *testing.T, out string) map[string]string {
	t.Helper()
	versions := map[string]string{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var obj struct {
			APIVersion string `yaml:"apiVersion"`
			Metadata   struct{ Name string }
		}
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return versions
		} else if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		versions[obj.Metadata.Name] = obj.APIVersion
	}
}
