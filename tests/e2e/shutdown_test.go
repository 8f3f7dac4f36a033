package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// hangingSink holds every request until the client gives up, while hang
// is set; then it answers 200 and keeps the bodies it got.
type hangingSink struct {
	srv *httptest.Server

	mu        sync.Mutex
	hang      bool
	inFlight  int
	delivered map[string]int // object name -> 200s
	changed   chan struct{}
}

func newHangingSink(t *testing.T) *hangingSink {
	s := &hangingSink{hang: true, delivered: map[string]int{}, changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		if s.hang {
			s.inFlight++
			s.signal()
			s.mu.Unlock()
			<-r.Context().Done()
			s.mu.Lock()
			s.inFlight--
			s.mu.Unlock()
			return
		}
		for name := range s.delivered {
			if bytes.Contains(body, []byte(`"name":"`+name+`"`)) {
				s.delivered[name]++
			}
		}
		s.signal()
		s.mu.Unlock()
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *hangingSink) signal() { close(s.changed); s.changed = make(chan struct{}) }

// waitFor waits until cond holds, under the sink's lock.
func (s *hangingSink) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(2 * deliveryMax)
	for {
		s.mu.Lock()
		ok, changed := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestShutdownIsBoundedAndKeepsPending sends 20 events to a provider that
// hangs: SIGTERM ends herald serve within --shutdown-timeout, not the
// Provider's timeout, and the next start delivers all 20, once each.
func TestShutdownIsBoundedAndKeepsPending(t *testing.T) {
	t.Parallel()
	sink := newHangingSink(t)
	cfgDir, stateDir := t.TempDir(), t.TempDir()
	if err := oneProvider(sink.srv.URL + "/hook").Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	herald := startDurable(t, cfgDir, stateDir, "--shutdown-timeout", "1s")
	rec := newRecorder(t, herald.URL)
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("app-%02d", i)
		names = append(names, name)
		sink.delivered[name] = 0
		if ex := rec.send(t, fluxObject(kustomizationGVK, ns, name, nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "hangs"); ex.Status != http.StatusAccepted {
			t.Fatalf("event %d: %d %q", i, ex.Status, ex.Reply)
		}
	}
	sink.waitFor(t, "20 attempts in flight", func() bool { return sink.inFlight == 20 })

	start := time.Now()
	if err := herald.Stop(); err != nil { // SIGTERM; Stop kills after 5 s
		t.Fatalf("herald serve did not stop by itself: %v", err)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Fatalf("shutdown took %s with --shutdown-timeout 1s", took)
	}
	if !strings.Contains(herald.Stderr(), `"msg":"pending deliveries kept for the next start","deliveries":20`) {
		t.Fatalf("no line about the 20 kept deliveries:\n%s", herald.Stderr())
	}

	sink.mu.Lock()
	sink.hang = false
	sink.mu.Unlock()
	startDurable(t, cfgDir, stateDir)
	sink.waitFor(t, "all 20 delivered", func() bool {
		for _, n := range sink.delivered {
			if n == 0 {
				return false
			}
		}
		return true
	})
	if l := deliveries(t, stateDir); len(l.Deliveries) != 0 {
		t.Fatalf("deliveries left: %+v", l)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for _, name := range names {
		if n := sink.delivered[name]; n != 1 {
			t.Errorf("%s delivered %d times, want once", name, n)
		}
	}
}

// TestProviderRenamedWhilePending renames the Provider of 5 pending
// deliveries: they become dead letters that say why, and herald replay
// delivers them once the rename is undone.
func TestProviderRenamedWhilePending(t *testing.T) {
	t.Parallel()
	provider := &switchable{}
	hook := sink(t, provider.respond)
	cfgDir, stateDir := t.TempDir(), t.TempDir()
	original := oneProvider(hook.URL() + "/hook")
	if err := original.Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	herald := startDurable(t, cfgDir, stateDir)
	rec := newRecorder(t, herald.URL)
	for i := range 5 {
		if ex := rec.send(t, fluxObject(kustomizationGVK, ns, fmt.Sprintf("renamed-%d", i), nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "pending"); ex.Status != http.StatusAccepted {
			t.Fatalf("event %d: %d %q", i, ex.Status, ex.Reply)
		}
	}
	if _, err := hook.WaitFor(5, deliveryMax); err != nil {
		t.Fatal(err)
	}

	renamed := original
	renamed.Providers = []harness.Provider{original.Providers[0]}
	renamed.Providers[0].Name = "hook-renamed"
	renamed.Alerts = []harness.Alert{original.Alerts[0]}
	renamed.Alerts[0].ProviderRef = "hook-renamed"
	if err := renamed.Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	waitDeadLetters(t, stateDir, 5, "provider unavailable")

	if err := original.Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	provider.up.Store(http.StatusOK)
	// The reload is asynchronous: replay once the original Provider is back.
	deadline := time.Now().Add(deliveryMax)
	for !strings.Contains(herald.Stderr(), `"providers":1`) || strings.Count(herald.Stderr(), `"msg":"config loaded"`) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the original config was not reloaded:\n%s", herald.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := cli(t, "replay", "--state-dir", stateDir); out != "replayed 5 deliveries from "+stateDir+", queued by the running herald serve\n" {
		t.Fatalf("herald replay: %q", out)
	}
	deadline = time.Now().Add(deliveryMax)
	for {
		ok := 0
		for _, r := range hook.Requests() {
			if r.Status == http.StatusOK {
				ok++
			}
		}
		if ok == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 5 replayed deliveries arrived", ok)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDeadLetters waits until stateDir holds n dead letters, each with
// reason.
func waitDeadLetters(t *testing.T, stateDir string, n int, reason string) {
	t.Helper()
	deadline := time.Now().Add(2 * deliveryMax)
	for {
		l := deliveries(t, stateDir)
		dead := 0
		for _, d := range l.Deliveries {
			if d.State == "dead" && d.Reason == reason {
				dead++
			}
		}
		if dead == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("want %d dead letters with reason %q: %+v", n, reason, l)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSIGHUPNeverEndsServe: SIGHUP reloads, a failed reload shows in
// /readyz and /metrics, and a SIGHUP during a shutdown's drain does not
// kill the process.
func TestSIGHUPNeverEndsServe(t *testing.T) {
	t.Parallel()
	sink := newHangingSink(t)
	cfgDir, stateDir := t.TempDir(), t.TempDir()
	if err := oneProvider(sink.srv.URL + "/hook").Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	herald := startDurable(t, cfgDir, stateDir, "--shutdown-timeout", "2s")

	// A broken file, then SIGHUP: the process lives, ready on its last
	// good config, and says the reload failed.
	if err := writeFile(cfgDir+"/broken.yaml", "kind: Alert\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nmetadata: {name: bad, namespace: flux-system}\nspec: {eventSeverity: loud}\n"); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(herald.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(deliveryMax)
	var ready string
	for {
		_, _, body := get(t, herald.URL+"/readyz")
		ready = string(body)
		if strings.Contains(ready, `"lastReload"`) && strings.Contains(ready, `eventSeverity`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after a failed reload: %s", ready)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(ready, `"status":"ready"`) {
		t.Fatalf("/readyz %s, want ready on the last good config", ready)
	}
	if _, _, metrics := get(t, herald.URL+"/metrics"); !bytes.Contains(metrics, []byte(`herald_config_reloads_total{result="failed"}`)) {
		t.Fatalf("no failed reload in /metrics")
	}

	// A delivery hangs, so the shutdown drains for up to 2 s; SIGHUP then.
	rec := newRecorder(t, herald.URL)
	if ex := rec.send(t, fluxObject(kustomizationGVK, ns, "hup", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "hangs"); ex.Status != http.StatusAccepted {
		t.Fatalf("%d %q", ex.Status, ex.Reply)
	}
	sink.waitFor(t, "the attempt in flight", func() bool { return sink.inFlight == 1 })
	if err := syscall.Kill(herald.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(deliveryMax)
	for !strings.Contains(herald.Stderr(), "shutting down") {
		if time.Now().After(deadline) {
			t.Fatal("herald did not start shutting down")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := syscall.Kill(herald.PID(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	<-herald.Done()
	if err := herald.Stop(); err == nil || !strings.Contains(err.Error(), "status 0") {
		t.Fatalf("herald serve exit: %v, want a clean exit despite SIGHUP", err)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o644) }

// get fetches url and returns the status, headers and body.
func get(t *testing.T, url string) (int, http.Header, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, body
}
