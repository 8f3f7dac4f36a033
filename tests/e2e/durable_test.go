package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// switchable answers 503, or what ok says once it is set: a provider
// that is down, and comes back.
type switchable struct{ up atomic.Int32 }

func (s *switchable) respond(int, *http.Request) (int, http.Header) {
	if st := s.up.Load(); st != 0 {
		return int(st), nil
	}
	return http.StatusServiceUnavailable, nil
}

// downProvider returns a provider that is down until the test switches
// it, the sink it answers for, a config folder with one Provider posting
// to that sink, and an empty state directory.
func downProvider(t *testing.T) (provider *switchable, hook *harness.Sink, cfgDir, stateDir string) {
	t.Helper()
	provider = &switchable{}
	hook = sink(t, provider.respond)
	cfgDir, stateDir = t.TempDir(), t.TempDir()
	if err := oneProvider(hook.URL() + "/hook").Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	return provider, hook, cfgDir, stateDir
}

// startDurable starts herald serve on cfgDir with state in stateDir, and
// stops it at the end of the test unless it was killed.
func startDurable(t *testing.T, cfgDir, stateDir string, args ...string) *harness.Process {
	t.Helper()
	p, err := harness.Start(heraldBin, cfgDir, harness.Options{StateDir: stateDir, Args: args})
	if err != nil {
		t.Fatalf("starting herald serve: %v", err)
	}
	t.Cleanup(func() {
		if !p.Exited() {
			p.Stop()
		}
		if t.Failed() {
			t.Logf("herald serve stderr:\n%s", p.Stderr())
		}
	})
	return p
}

type listing struct {
	Deliveries []struct {
		ID        string `json:"id"`
		State     string `json:"state"`
		Provider  string `json:"provider"`
		Object    string `json:"object"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError"`
		Reason    string `json:"reason"`
	} `json:"deliveries"`
}

// cli runs a herald command and returns its stdout; it fails the test on a
// non-zero exit.
func cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(heraldBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("herald %s: %v\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

func deliveries(t *testing.T, stateDir string) listing {
	t.Helper()
	var l listing
	out := cli(t, "deliveries", "--state-dir", stateDir, "-o", "json")
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("herald deliveries -o json: %v\n%s", err, out)
	}
	return l
}

// TestDurableLocalModeSurvivesKill answers an event 202 while its provider
// is down, kills herald serve with SIGKILL, and restarts it: the delivery
// is listed while pending, with its last error, through the running
// process and from the state file, and the restarted process delivers it
// once, with the body of the first attempt. The de-duplication window
// survives too.
func TestDurableLocalModeSurvivesKill(t *testing.T) {
	t.Parallel()
	provider, hook, cfgDir, stateDir := downProvider(t)
	herald := startDurable(t, cfgDir, stateDir)
	rec := newRecorder(t, herald.URL)
	obj := fluxObject(kustomizationGVK, ns, "durable", nil)
	ex := rec.send(t, obj, nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "kept across a crash")
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	first, err := hook.WaitFor(1, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}

	// Listed by the running process, through its admin socket.
	l := deliveries(t, stateDir)
	if len(l.Deliveries) != 1 || l.Deliveries[0].State != "pending" || l.Deliveries[0].Attempts < 1 ||
		!strings.Contains(l.Deliveries[0].LastError, "503") || l.Deliveries[0].Object != "Kustomization/"+ns+"/durable" {
		t.Fatalf("herald deliveries while running: %+v", l)
	}

	herald.Kill()
	// Listed from the state file the killed process left.
	if after := deliveries(t, stateDir); len(after.Deliveries) != 1 || after.Deliveries[0].ID != l.Deliveries[0].ID {
		t.Fatalf("herald deliveries after kill -9: %+v", after)
	}
	if table := cli(t, "deliveries", "--state-dir", stateDir); !strings.Contains(table, "pending") || !strings.Contains(table, "503") {
		t.Fatalf("herald deliveries table:\n%s", table)
	}

	provider.up.Store(http.StatusOK)
	restarted := startDurable(t, cfgDir, stateDir)
	got, err := hook.WaitForStatus(http.StatusOK, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Body, first[0].Body) {
		t.Fatalf("delivered after the restart:\n%s\nwant the body of the first attempt:\n%s", got.Body, first[0].Body)
	}
	if l := deliveries(t, stateDir); len(l.Deliveries) != 0 {
		t.Fatalf("herald deliveries after the delivery: %+v", l)
	}

	// The same event within the window is still a duplicate.
	rec2 := newRecorder(t, restarted.URL)
	if dup := rec2.send(t, obj, nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "kept across a crash"); dup.Status != http.StatusTooManyRequests {
		t.Fatalf("the same event after the restart: %d %q, want 429", dup.Status, dup.Reply)
	}
	ok := 0
	for _, r := range hook.Requests() {
		if r.Status == http.StatusOK {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d successful deliveries, want 1", ok)
	}
}

// TestDurableLocalModeReplay dead-letters a delivery that a provider
// refuses, lists it with its reason, and replays it through the running
// herald serve, then another one from the state file of a stopped one,
// which the next start sends.
func TestDurableLocalModeReplay(t *testing.T) {
	t.Parallel()
	provider, hook, cfgDir, stateDir := downProvider(t)
	provider.up.Store(http.StatusBadRequest)
	herald := startDurable(t, cfgDir, stateDir)
	rec := newRecorder(t, herald.URL)
	if ex := rec.send(t, fluxObject(kustomizationGVK, ns, "refused", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "first"); ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	waitDead := func(n int) listing {
		t.Helper()
		deadline := time.Now().Add(deliveryMax)
		for {
			l := deliveries(t, stateDir)
			dead := 0
			for _, d := range l.Deliveries {
				if d.State == "dead" {
					dead++
				}
			}
			if dead == n {
				return l
			}
			if time.Now().After(deadline) {
				t.Fatalf("want %d dead letters: %+v", n, l)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	l := waitDead(1)
	if d := l.Deliveries[0]; d.Reason != "permanent failure" || !strings.Contains(d.LastError, "400") {
		t.Fatalf("dead letter %+v", d)
	}

	provider.up.Store(http.StatusOK)
	if out := cli(t, "replay", "--state-dir", stateDir); out != "replayed 1 deliveries from "+stateDir+", queued by the running herald serve\n" {
		t.Fatalf("herald replay: %q", out)
	}
	if _, err := hook.WaitForStatus(http.StatusOK, deliveryMax); err != nil {
		t.Fatal(err)
	}

	// Dead-letter another, stop herald serve, replay from the file.
	provider.up.Store(http.StatusBadRequest)
	if ex := rec.send(t, fluxObject(kustomizationGVK, ns, "refused", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "second"); ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	waitDead(1)
	if err := herald.Stop(); err != nil {
		t.Fatal(err)
	}
	if out := cli(t, "replay", "--state-dir", stateDir); out != "replayed 1 deliveries from "+stateDir+", pending until herald serve starts\n" {
		t.Fatalf("herald replay without herald serve: %q", out)
	}
	provider.up.Store(http.StatusOK)
	startDurable(t, cfgDir, stateDir)
	deadline := time.Now().Add(deliveryMax)
	for {
		ok := 0
		for _, r := range hook.Requests() {
			if r.Status == http.StatusOK && bytes.Contains(r.Body, []byte(`"message":"second"`)) {
				ok++
			}
		}
		if ok == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replayed delivery was not sent after the restart: %d", ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
