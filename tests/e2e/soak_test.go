package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// countOK counts, per involved object name, the requests a sink answered
// 200.
func countOK(reqs []harness.Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		if r.Status != http.StatusOK {
			continue
		}
		var ev struct {
			InvolvedObject struct {
				Name string `json:"name"`
			} `json:"involvedObject"`
		}
		if err := json.Unmarshal(r.Body, &ev); err == nil {
			out[ev.InvolvedObject.Name]++
		}
	}
	return out
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// TestOutageSoak plays a provider outage of 10 minutes with the retry
// delays scaled down (HERALD_SOAK_SCALE, 0.01 by default: a 6 s outage):
// 200 distinct events sent at its start are all delivered once the
// provider is back, each exactly once, and none is dead-lettered. `make
// soak` runs a longer form (HERALD_SOAK_EVENTS, HERALD_SOAK_SCALE).
func TestOutageSoak(t *testing.T) {
	t.Parallel()
	events, _ := strconv.Atoi(envOr("HERALD_SOAK_EVENTS", "200"))
	scale, _ := strconv.ParseFloat(envOr("HERALD_SOAK_SCALE", "0.01"), 64)
	outage := time.Duration(float64(10*time.Minute) * scale)
	horizon := time.Duration(float64(time.Hour) * scale)
	provider, hook, cfgDir, stateDir := downProvider(t)
	herald := startDurable(t, cfgDir, stateDir, "--retry-scale", fmt.Sprint(scale), "--max-delivery-age", horizon.String())
	rec := newRecorder(t, herald.URL)
	start := time.Now()
	for i := range events {
		if ex := rec.send(t, fluxObject(kustomizationGVK, ns, fmt.Sprintf("soak-%04d", i), nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "outage"); ex.Status != http.StatusAccepted {
			t.Fatalf("event %d: %d %q", i, ex.Status, ex.Reply)
		}
	}
	time.Sleep(time.Until(start.Add(outage))) // the outage, scaled
	provider.up.Store(http.StatusOK)

	deadline := time.Now().Add(horizon)
	for {
		got := countOK(hook.Requests())
		if len(got) == events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d events delivered within the horizon after the outage", len(got), events)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Nothing pending or dead, and each delivered once.
	if l := deliveries(t, stateDir); len(l.Deliveries) != 0 {
		t.Fatalf("deliveries left after the outage: %+v", l.Deliveries)
	}
	for name, n := range countOK(hook.Requests()) {
		if n != 1 {
			t.Errorf("%s delivered %d times, want once", name, n)
		}
	}
}

// waitEachDeliveredOnce waits until the sink has answered 200 for n
// objects after a restart, and checks that each is named prefix-something
// and was delivered once.
func waitEachDeliveredOnce(t *testing.T, hook *harness.Sink, n int, prefix string) {
	t.Helper()
	deadline := time.Now().Add(2 * deliveryMax)
	for len(countOK(hook.Requests())) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered after the restart", len(countOK(hook.Requests())), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for name, got := range countOK(hook.Requests()) {
		if got != 1 || !strings.HasPrefix(name, prefix) {
			t.Errorf("%s delivered %d times, want once", name, got)
		}
	}
}

// TestCrashWith100Pending kills herald serve with SIGKILL while 100
// deliveries wait for their retry: after a restart on the same state
// directory all 100 are delivered once, and a duplicate of an event seen
// before the crash is still answered 429.
func TestCrashWith100Pending(t *testing.T) {
	t.Parallel()
	provider, hook, cfgDir, stateDir := downProvider(t)
	herald := startDurable(t, cfgDir, stateDir, "--retry-scale", "0.1")
	rec := newRecorder(t, herald.URL)
	for i := range 100 {
		if ex := rec.send(t, fluxObject(kustomizationGVK, ns, fmt.Sprintf("crash-%03d", i), nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "crash"); ex.Status != http.StatusAccepted {
			t.Fatalf("event %d: %d %q", i, ex.Status, ex.Reply)
		}
	}
	if _, err := hook.WaitFor(100, deliveryMax); err != nil {
		t.Fatal(err)
	}
	herald.Kill()

	provider.up.Store(http.StatusOK)
	restarted := startDurable(t, cfgDir, stateDir, "--retry-scale", "0.1")
	waitEachDeliveredOnce(t, hook, 100, "crash-")
	rec2 := newRecorder(t, restarted.URL)
	if dup := rec2.send(t, fluxObject(kustomizationGVK, ns, "crash-042", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "crash"); dup.Status != http.StatusTooManyRequests {
		t.Fatalf("a duplicate of an event from before the crash: %d %q, want 429", dup.Status, dup.Reply)
	}
}

// TestHorizonDeadLetterReplay: a delivery that outlives --max-delivery-age
// is dead-lettered with that reason, listed with its last error, and
// delivered by herald replay once the provider is back.
func TestHorizonDeadLetterReplay(t *testing.T) {
	t.Parallel()
	provider, hook, cfgDir, stateDir := downProvider(t)
	herald := startDurable(t, cfgDir, stateDir, "--max-delivery-age", "3s", "--retry-scale", "0.25")
	rec := newRecorder(t, herald.URL)
	if ex := rec.send(t, fluxObject(kustomizationGVK, ns, "too-old", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "horizon"); ex.Status != http.StatusAccepted {
		t.Fatalf("%d %q", ex.Status, ex.Reply)
	}
	waitDeadLetters(t, stateDir, 1, "max delivery age reached")
	l := deliveries(t, stateDir)
	if d := l.Deliveries[0]; !strings.Contains(d.LastError, "503") || !strings.Contains(d.LastError, "max delivery age of 3s") || d.Attempts < 2 {
		t.Fatalf("dead letter %+v", d)
	}
	provider.up.Store(http.StatusOK)
	if out := cli(t, "replay", "--state-dir", stateDir); !strings.HasPrefix(out, "replayed 1 deliveries") {
		t.Fatalf("herald replay: %q", out)
	}
	deadline := time.Now().Add(deliveryMax)
	for countOK(hook.Requests())["too-old"] != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the replayed delivery did not arrive")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKillRightAfterAccepting: herald serve is killed with kill -9 at once
// after answering the last of 50 events 202, while its write-ahead log
// most likely holds frames not yet applied to herald.db (they are applied
// 100 ms at a time). After a restart all 50 are delivered, once each, and
// a duplicate of the last is still answered 429.
func TestKillRightAfterAccepting(t *testing.T) {
	t.Parallel()
	provider, hook, cfgDir, stateDir := downProvider(t)
	herald := startDurable(t, cfgDir, stateDir, "--retry-scale", "0.1")
	rec := newRecorder(t, herald.URL)
	const n = 50
	for i := range n {
		if ex := rec.send(t, fluxObject(kustomizationGVK, ns, fmt.Sprintf("kill-%02d", i), nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "kill"); ex.Status != http.StatusAccepted {
			t.Fatalf("event %d: %d %q", i, ex.Status, ex.Reply)
		}
	}
	herald.Kill()

	provider.up.Store(http.StatusOK)
	restarted := startDurable(t, cfgDir, stateDir, "--retry-scale", "0.1")
	waitEachDeliveredOnce(t, hook, n, "kill-")
	rec2 := newRecorder(t, restarted.URL)
	if dup := rec2.send(t, fluxObject(kustomizationGVK, ns, fmt.Sprintf("kill-%02d", n-1), nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "kill"); dup.Status != http.StatusTooManyRequests {
		t.Fatalf("a duplicate of the last event before the kill: %d %q, want 429", dup.Status, dup.Reply)
	}
}
