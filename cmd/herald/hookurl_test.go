package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/heraldhq/herald/pkg/receiver"
)

// TestHookURLLocal: with --config, hook-url reads the Receiver and its
// Secret as herald serve does and prints Flux's webhook path, or the URL.
func TestHookURLLocal(t *testing.T) {
	dir := t.TempDir()
	manifest := `apiVersion: v1
kind: Secret
metadata: {name: receiver-token, namespace: flux-system}
stringData: {token: token}
---
apiVersion: v1
kind: Secret
metadata: {name: no-token, namespace: flux-system}
stringData: {other: x}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: receiver-name, namespace: flux-system}
spec:
  type: generic
  secretRef: {name: receiver-token}
  resources: [{kind: GitRepository, name: podinfo}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: missing-secret, namespace: flux-system}
spec:
  type: generic
  secretRef: {name: nowhere}
  resources: [{kind: GitRepository, name: podinfo}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: missing-key, namespace: flux-system}
spec:
  type: github
  secretRef: {name: no-token}
  resources: [{kind: GitRepository, name: podinfo}]
`
	file := filepath.Join(dir, "receivers.yaml")
	if err := os.WriteFile(file, []byte(manifest), 0o600); err != nil {
		t.Fatal(err)
	}
	// Flux's example (behaviour reference §5.1).
	const path = "/hook/a8c70216a11cf7c8e4baefc2cb6795e0799d16e3c8e28d15eace6aba5aadddd0"
	if got := receiver.Path([]byte("token"), "receiver-name", "flux-system"); got != path {
		t.Fatalf("receiver.Path = %s, want Flux's %s", got, path)
	}
	t.Setenv("HERALD_API_URL", "")
	for _, tc := range []struct {
		args         []string
		code         int
		stdout, errs string
	}{
		{[]string{"--config", dir}, 0, path + "\n", ""},
		{[]string{"--config", file, "--api-url", "https://hooks.example.com/"}, 0, "https://hooks.example.com" + path + "\n", ""},
		{[]string{"--config", dir, "--addr", "127.0.0.1:9292"}, 0, "http://127.0.0.1:9292" + path + "\n", ""},
		{[]string{"--config", dir, "--addr", "127.0.0.1:9292", "--api-url", "https://x"}, 2, "", "herald hook-url: need RECEIVER and -n NAMESPACE, and at most one of --api-url and --addr\n\n" + hookURLUsage},
		{[]string{"--config", dir, "--cluster", "prod"}, 1, "", "herald hook-url: Receiver/flux-system/receiver-name not found in " + dir + "\n"},
	} {
		code, stdout, stderr := herald(t, append([]string{"hook-url", "receiver-name", "-n", "flux-system"}, tc.args...)...)
		if code != tc.code || stdout != tc.stdout || stderr != tc.errs {
			t.Errorf("hook-url %v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, stdout, stderr, tc.code, tc.stdout, tc.errs)
		}
	}
	for name, want := range map[string]string{
		"missing-secret": file + ": document 3: Receiver/flux-system/missing-secret: spec.secretRef.name: Secret flux-system/nowhere not found in " + dir,
		"missing-key":    file + `: document 4: Receiver/flux-system/missing-key: spec.secretRef.name: invalid "flux-system/no-token" secret data: required field 'token'`,
	} {
		code, stdout, stderr := herald(t, "hook-url", name, "-n", "flux-system", "--config", dir)
		if code != 1 || stdout != "" || stderr != "herald hook-url: "+want+"\n" {
			t.Errorf("hook-url %s: exit %d, stdout %q, stderr %q; want %q", name, code, stdout, stderr, want)
		}
	}
}
