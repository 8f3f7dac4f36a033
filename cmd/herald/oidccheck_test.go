package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

const oidcReceiverManifest = `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: ci, namespace: flux-system}
spec:
  type: generic-oidc
  oidcProviders:
    - issuerURL: https://token.actions.githubusercontent.com
      variables:
        - {name: repo, expression: "claims.repository"}
      validations:
        - {expression: "vars.repo == 'org/app'", message: wrong repository}
  resources:
    - {kind: GitRepository, name: podinfo}
`

// brokenOIDC is oidcReceiverManifest with CEL Flux's reconciler rejects
// (InvalidCELExpression): a syntax error and a validation that is not a bool.
var brokenOIDC = strings.NewReplacer(
	`"claims.repository"`, `"claims.repository +"`,
	`message: wrong repository}`, "message: wrong repository}\n        - {expression: \"claims.ref\", message: not a bool}",
).Replace(oidcReceiverManifest)

func TestValidateOIDCExpressions(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ci.yaml")
	if err := os.WriteFile(file, []byte("---\n"+oidcReceiverManifest+"---\n"+brokenOIDC), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := runCmd(t, fluxTypes, "-f", file)
	prefix := file + ": document 1: Receiver/flux-system/ci: "
	for _, want := range []string{
		prefix + "spec.oidcProviders[0].variables[0].expression: invalid CEL expression: failed to parse the CEL expression 'claims.repository +': ERROR: <input>:1:20: Syntax error",
		prefix + "spec.oidcProviders[0].validations[1].expression: invalid CEL expression: CEL expression output type mismatch: expected bool, got dyn",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say\n%s\nstderr:\n%s", want, stderr)
		}
	}
	// Document 0 is valid; only the duplicate name and the CEL of document 1 fail.
	if code != 1 || stdout != "" || strings.Contains(stderr, "\n"+file+": document 0") || strings.HasPrefix(stderr, file+": document 0") || !strings.Contains(stderr, "herald validate: 3 errors") {
		t.Errorf("exit %d, stdout %q\nstderr:\n%s", code, stdout, stderr)
	}

	// apply refuses the same before it needs AWS.
	if err := os.WriteFile(file, []byte(brokenOIDC), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HERALD_TABLE", "unused")
	code, stdout, stderr = herald(t, "apply", "-f", file)
	if code != 1 || stdout != "" || !strings.Contains(stderr, file+": document 0: Receiver/flux-system/ci: spec.oidcProviders[0].validations[1].expression: invalid CEL expression") ||
		!strings.Contains(stderr, "herald apply: 2 errors, nothing applied") {
		t.Errorf("apply: exit %d, stdout %q\nstderr:\n%s", code, stdout, stderr)
	}
}

// recordingStore is the config store of apply, remembering digests.
type recordingStore struct{ digests map[string]string }

func (s *recordingStore) PutObject(context.Context, any) (dynamo.Change, error) {
	return "created", nil
}
func (s *recordingStore) PutReceiver(_ context.Context, r api.Receiver, digest string) (dynamo.Change, error) {
	s.digests[r.Metadata.Name] = digest
	return "created", nil
}

type noSecrets struct{ t *testing.T }

func (s noSecrets) Put(context.Context, string, string, map[string][]byte) (string, error) {
	s.t.Error("no Secret to write")
	return "", nil
}
func (s noSecrets) Lookup(string, string) (map[string][]byte, error) {
	s.t.Error("a generic-oidc Receiver has no secret to read")
	return nil, nil
}

// TestApplyGenericOIDCDigest: a Receiver without a secret is written under
// Flux's digest of an empty token, the path its callers use.
func TestApplyGenericOIDCDigest(t *testing.T) {
	cfg, err := api.Decode("ci.yaml", []byte(oidcReceiverManifest))
	if err != nil {
		t.Fatal(err)
	}
	st := &recordingStore{digests: map[string]string{}}
	var out bytes.Buffer
	if err := apply(context.Background(), cfg, st, noSecrets{t}, &out); err != nil {
		t.Fatal(err)
	}
	if got, want := st.digests["ci"], receiver.Digest([]byte(""), "ci", "flux-system"); got != want {
		t.Fatalf("digest %s, want %s", got, want)
	}
}

// TestServeRefusesOIDCExpressions: herald serve does not load a folder
// whose OIDC CEL does not compile, as validate would not pass it.
func TestServeRefusesOIDCExpressions(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ci.yaml"), []byte(brokenOIDC), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := configLoader(slog.New(slog.DiscardHandler))(dir)
	if err == nil || !strings.Contains(err.Error(), "spec.oidcProviders[0].variables[0].expression: invalid CEL expression") {
		t.Fatalf("configLoader() = %v", err)
	}
}
