// Package e2e runs Herald end to end with a real Kubernetes API server: a
// GitHub push webhook reaches `herald serve`, the forwarder polls the
// reconcile request Herald recorded and patches the GitRepository, as
// Flux's receiver would have.
package e2e

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

const (
	// patience bounds every wait: generous, as CI shares two cores.
	patience     = 60 * time.Second
	cluster      = "e2e"
	clusterToken = "forwarder-token-0123456789abcdef"
	hookToken    = "github-webhook-token-0b5e6a2c1f9d"
	rcvName      = "github-receiver"
)

// repoRoot is the root of this repository, found from this file.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// build compiles pkg in dir into out.
func build(t *testing.T, dir, pkg, out string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// process is a started binary whose JSON log lines the test can read.
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}

	mu    sync.Mutex
	lines []string
	found map[string]chan map[string]any
}

// start runs bin with args and stops it, SIGTERM then SIGKILL, when the
// test ends; its log is in the test's output if the test fails.
func start(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	p := &process{name: name, cmd: exec.Command(bin, args...), done: make(chan struct{}), found: map[string]chan map[string]any{}}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = io.Discard
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			p.record(sc.Text())
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			p.mu.Lock()
			t.Logf("%s log:\n%s", p.name, strings.Join(p.lines, "\n"))
			p.mu.Unlock()
		}
	})
	return p
}

func (p *process) record(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lines = append(p.lines, line)
	rec := parseRecord(line)
	if rec == nil {
		return
	}
	msg, _ := rec["msg"].(string)
	if ch, ok := p.found[msg]; ok {
		select {
		case ch <- rec:
		default:
		}
	}
}

// parseRecord is a JSON log line as a map, nil for other lines.
func parseRecord(line string) map[string]any {
	var rec map[string]any
	if json.Unmarshal([]byte(line), &rec) != nil {
		return nil
	}
	return rec
}

// awaiter returns a function that waits for the first log record with
// message msg, failing the test if the process exits or patience runs out
// first.
func (p *process) awaiter(msg string) func(t *testing.T) map[string]any {
	ch := make(chan map[string]any, 1)
	p.mu.Lock()
	// The process may have logged it already.
	for _, line := range p.lines {
		if rec := parseRecord(line); rec != nil && rec["msg"] == msg {
			ch <- rec
			break
		}
	}
	p.found[msg] = ch
	p.mu.Unlock()
	return func(t *testing.T) map[string]any {
		t.Helper()
		select {
		case rec := <-ch:
			return rec
		case <-p.done:
			t.Fatalf("%s exited before logging %q", p.name, msg)
		case <-time.After(patience):
			t.Fatalf("%s did not log %q within %s", p.name, msg, patience)
		}
		return nil
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// config is herald serve's folder: a GitHub Receiver in flux-system for
// this cluster that reconciles, in namespace APPS, the GitRepository
// podinfo and, with a wildcard, every GitRepository labelled team=apps,
// but for the ones its resourceFilter excludes: it reads the push (req),
// which herald serve decides, and the object (res), which only the
// forwarder can.
const config = `apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: ` + rcvName + `
  namespace: flux-system
  labels:
    herald.io/cluster: ` + cluster + `
spec:
  type: github
  events:
    - ping
    - push
  secretRef:
    name: receiver-token
  resourceFilter: req.ref == 'refs/heads/main' && !(res.metadata.name in ['apps-0'])
  resources:
    - apiVersion: source.toolkit.fluxcd.io/v1
      kind: GitRepository
      name: podinfo
      namespace: APPS
    - kind: GitRepository
      name: "*"
      namespace: APPS
      matchLabels:
        team: apps
---
apiVersion: v1
kind: Secret
metadata:
  name: receiver-token
  namespace: flux-system
  labels:
    herald.io/cluster: ` + cluster + `
stringData:
  token: ` + hookToken + `
`

// hookDigest is the Receiver's webhook path segment, as Flux computes it:
// the hex SHA-256 of the token, the name and the namespace. It is written
// out here, not taken from pkg/receiver, so the test holds Herald to
// Flux's URLs.
func hookDigest(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return hex.EncodeToString(sum[:])
}

// pushPayload is a GitHub push event, trimmed to what parsing needs.
const pushPayload = `{"ref":"refs/heads/main","before":"0000000000000000000000000000000000000000",` +
	`"after":"4f6b2c1e8e9d0a7b3c5d6e7f8a9b0c1d2e3f4a5b","repository":{"id":1,"name":"podinfo","full_name":"stefanprodan/podinfo"}}`

// postHook sends a GitHub push webhook signed with token to url.
func postHook(t *testing.T, url, token, delivery string) *http.Response {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte(pushPayload))
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(pushPayload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", "push")
	req.Header.Set("X-GitHub-Delivery", delivery)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("posting the webhook: %v", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// requestedAtLayout is Go's time.Time.String() form, which Flux's receiver
// writes (without the monotonic clock part a String of a parsed time has).
const requestedAtLayout = "2006-01-02 15:04:05.999999999 -0700 MST"

func TestGitHubPushReconcilesTheGitRepository(t *testing.T) {
	env := kubetest.Start(t)
	root := repoRoot(t)
	bin := t.TempDir()
	build(t, root, "github.com/heraldhq/herald/cmd/herald", filepath.Join(bin, "herald"))
	build(t, filepath.Join(root, "cmd", "forwarder"), ".", filepath.Join(bin, "forwarder"))

	// A namespace per run, so that -count runs the test again on fresh
	// objects.
	ns := env.Namespace(t)
	old := "2000-01-01 00:00:00 +0000 UTC"
	for _, o := range []struct {
		name   string
		labels map[string]string
	}{
		{"podinfo", nil},
		{"apps-0", map[string]string{"team": "apps"}}, // labelled, but filtered out
		{"apps-a", map[string]string{"team": "apps"}},
		{"infra", map[string]string{"team": "infra"}},
	} {
		repo := env.Create(t, kubetest.GitRepository, ns, o.name, o.labels)
		repo.SetAnnotations(map[string]string{"reconcile.fluxcd.io/requestedAt": old})
		if _, err := env.Dynamic.Resource(kubetest.GitRepository).Namespace(ns).Update(context.Background(), repo, updateOptions); err != nil {
			t.Fatal(err)
		}
	}

	work := t.TempDir()
	cfgDir := filepath.Join(work, "config")
	if err := os.Mkdir(cfgDir, 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(cfgDir, "receiver.yaml"), strings.ReplaceAll(config, "APPS", ns))
	writeFile(t, filepath.Join(work, "cluster-tokens.yaml"), cluster+": "+clusterToken+"\n")
	writeFile(t, filepath.Join(work, "token"), clusterToken+"\n")
	kubeconfig, err := env.WriteKubeConfig(work)
	if err != nil {
		t.Fatal(err)
	}

	herald := start(t, "herald serve", filepath.Join(bin, "herald"), "serve",
		"--config", cfgDir, "--addr", "127.0.0.1:0", "--cluster-tokens", filepath.Join(work, "cluster-tokens.yaml"),
		"--state-dir", filepath.Join(work, "state"))
	serving := herald.awaiter("herald serving")(t)
	heraldURL := fmt.Sprintf("http://%s/", serving["addr"])

	start(t, "forwarder", filepath.Join(bin, "forwarder"),
		"--addr", "127.0.0.1:0", "--herald-url", heraldURL, "--cluster", cluster,
		"--token-file", filepath.Join(work, "token"), "--buffer-dir", filepath.Join(work, "buffer"),
		"--kubeconfig", kubeconfig, "--poll-interval", "200ms", "--log-level", "debug")

	// A webhook with another token is refused and reconciles nothing.
	hook := heraldURL + "hook/" + hookDigest(hookToken, rcvName, kubetest.FluxNamespace)
	if resp := postHook(t, hook, "not-the-token", "forged"); resp.StatusCode < 400 || resp.StatusCode >= 500 {
		t.Fatalf("webhook with a bad signature: %s, want a 4xx", resp.Status)
	}

	// Two pushes: the second is picked up by a later poll, after the
	// forwarder's cursor moved past the first.
	prev := map[string]string{"podinfo": old, "apps-a": old}
	for round := 1; round <= 2; round++ {
		before := time.Now().UTC()
		if resp := postHook(t, hook, hookToken, fmt.Sprintf("delivery-%d", round)); resp.StatusCode != http.StatusOK {
			t.Fatalf("webhook %d: %s, want 200", round, resp.Status)
		}
		// Poll the API server until both selected objects carry a new
		// time: the request by name and the one by labels.
		values := waitForRequestedAt(t, env, ns, prev)
		for _, name := range []string{"podinfo", "apps-a"} {
			at, err := time.Parse(requestedAtLayout, values[name])
			if err != nil {
				t.Fatalf("%s: requestedAt %q is not in Go's time form: %v", name, values[name], err)
			}
			if at.Before(before.Truncate(time.Second)) || at.After(time.Now().Add(time.Second)) {
				t.Errorf("push %d: %s: requestedAt %s is not the time of the webhook (sent at %s)", round, name, at, before)
			}
		}
		prev = values
	}
	// apps-0 is listed with apps-a, by the same request, and before it (the
	// API server lists by name): by the time apps-a changed, the filter had
	// said no to apps-0.
	for _, name := range []string{"infra", "apps-0"} {
		if v := env.Get(t, kubetest.GitRepository, ns, name).GetAnnotations()["reconcile.fluxcd.io/requestedAt"]; v != old {
			t.Errorf("GitRepository %s, not selected, got requestedAt %q", name, v)
		}
	}
}

// waitForRequestedAt polls the API server until every GitRepository in
// prev, in namespace ns, has a requestedAt other than the one there, and returns them.
func waitForRequestedAt(t *testing.T, env *kubetest.Env, ns string, prev map[string]string) map[string]string {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		values := map[string]string{}
		changed := 0
		for name, v := range prev {
			values[name] = env.Get(t, kubetest.GitRepository, ns, name).GetAnnotations()["reconcile.fluxcd.io/requestedAt"]
			if values[name] != v {
				changed++
			}
		}
		if changed == len(prev) {
			return values
		}
		if time.Now().After(deadline) {
			t.Fatalf("requestedAt not updated within %s: %v (before: %v)", patience, values, prev)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

var updateOptions = metav1.UpdateOptions{}
