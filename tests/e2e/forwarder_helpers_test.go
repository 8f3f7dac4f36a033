package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	eventv1 "github.com/fluxcd/pkg/apis/event/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/heraldhq/herald/tests/internal/harness"
)

const (
	fwdCluster = "e2e-cluster"
	fwdToken   = "e2e-forwarder-token-5d0c61a4f3b8"
	// fwdRetryMax keeps the forwarder's back-off short, so that a Herald
	// coming back is noticed within a second.
	fwdRetryMax = 500 * time.Millisecond
	// drainMax bounds every wait for deliveries after Herald comes back:
	// generous, for a busy 2-core machine with the race detector on.
	drainMax = 3 * time.Minute
)

var (
	forwarderOnce sync.Once
	forwarderBin  string
	forwarderErr  error
)

// forwarderBinary builds the forwarder once per test binary (or takes
// $FORWARDER_BIN). It builds into a fixed folder under the temporary
// directory, one per clone, rather than a fresh one: the e2e TestMain,
// which would remove a fresh folder, is not the forwarder's, and with a
// fixed output path `go build` finds the binary up to date and skips the
// link on the next run.
func forwarderBinary(t *testing.T) string {
	t.Helper()
	forwarderOnce.Do(func() {
		if os.Getenv(harness.ForwarderBinaryEnv) != "" {
			forwarderBin, forwarderErr = harness.ForwarderBinary("")
			return
		}
		root, err := harness.RepoRoot()
		if err != nil {
			forwarderErr = err
			return
		}
		sum := sha256.Sum256([]byte(root))
		dir := filepath.Join(os.TempDir(), fmt.Sprintf("herald-e2e-forwarder-%d-%s", os.Getuid(), hex.EncodeToString(sum[:6])))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			forwarderErr = err
			return
		}
		forwarderBin, forwarderErr = harness.BuildForwarder(dir, false)
	})
	if forwarderErr != nil {
		t.Fatalf("building the forwarder: %v", forwarderErr)
	}
	return forwarderBin
}

// fwdSetup is a test's forwarder environment: its token files and folders.
type fwdSetup struct {
	ClusterTokens string // herald's --cluster-tokens file
	TokenFile     string // the forwarder's --token-file
	BufferDir     string
}

func newFwdSetup(t *testing.T) fwdSetup {
	t.Helper()
	dir := t.TempDir()
	s := fwdSetup{
		ClusterTokens: filepath.Join(dir, "cluster-tokens.yaml"),
		TokenFile:     filepath.Join(dir, "token"),
		BufferDir:     filepath.Join(dir, "buffer"),
	}
	if err := os.WriteFile(s.ClusterTokens, fmt.Appendf(nil, "%s: %q\nother-cluster: %q\n", fwdCluster, fwdToken, "not-this-one"), 0o600); err != nil {
		t.Fatal(err)
	}
	// As a Secret written with echo: the trailing newline is not the token.
	if err := os.WriteFile(s.TokenFile, []byte(fwdToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// heraldProc is a `herald serve` a test may stop and start again on the
// same address, as an outage.
type heraldProc struct {
	t       *testing.T
	cfgDir  string
	args    []string
	addr    string
	mu      sync.Mutex
	current *harness.Process
	logs    []string // stderr of the processes that ended
}

// startHerald writes cfg and starts `herald serve --cluster-tokens FILE
// args...` on a free port; it is stopped when the test ends.
func startHerald(t *testing.T, cfg harness.Config, clusterTokens string, args ...string) *heraldProc {
	t.Helper()
	dir := t.TempDir()
	if err := cfg.Write(dir); err != nil {
		t.Fatal(err)
	}
	h := &heraldProc{t: t, cfgDir: dir, args: append([]string{"--cluster-tokens", clusterTokens}, args...)}
	p, err := harness.Start(heraldBin, dir, harness.Options{Args: h.args})
	if err != nil {
		t.Fatalf("starting herald serve: %v", err)
	}
	h.current, h.addr = p, p.Addr
	t.Cleanup(func() {
		h.mu.Lock()
		p := h.current
		h.mu.Unlock()
		if p != nil {
			if err := p.Stop(); err != nil {
				t.Errorf("stopping herald: %v", err)
			}
			h.logs = append(h.logs, p.Stderr())
		}
		if t.Failed() {
			for i, l := range h.logs {
				t.Logf("herald serve #%d stderr:\n%s", i+1, l)
			}
		}
	})
	return h
}

// URL is where herald serves, also while it is down.
func (h *heraldProc) URL() string { return "http://" + h.addr }

// Down stops herald gracefully; the address stays reserved for Up.
func (h *heraldProc) Down() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.current.Stop(); err != nil {
		h.t.Fatalf("stopping herald: %v", err)
	}
	h.logs = append(h.logs, h.current.Stderr())
	h.current = nil
}

// Up starts herald again on the address it had.
func (h *heraldProc) Up() {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	p, err := harness.StartAt(heraldBin, h.cfgDir, h.addr, harness.Options{Args: h.args, ReadyTimeout: time.Minute})
	if err != nil {
		h.t.Fatalf("starting herald serve again on %s: %v", h.addr, err)
	}
	h.current = p
}

// Metrics reads the running herald's /metrics.
func (h *heraldProc) Metrics() (map[string]float64, error) {
	return harness.ScrapeMetrics(h.URL() + "/metrics")
}

// startForwarder starts the forwarder with --no-kube on setup's folders,
// sending to heraldURL; it is stopped (or found killed) when the test ends.
func startForwarder(t *testing.T, setup fwdSetup, heraldURL string, maxBytes int64, args ...string) *harness.Forwarder {
	t.Helper()
	f, err := harness.StartForwarder(forwarderBinary(t), harness.ForwarderOptions{
		HeraldURL:      heraldURL,
		Cluster:        fwdCluster,
		TokenFile:      setup.TokenFile,
		BufferDir:      setup.BufferDir,
		BufferMaxBytes: maxBytes,
		RetryMaxDelay:  fwdRetryMax,
		Args:           append([]string{"--shutdown-grace", "2s"}, args...),
		ReadyTimeout:   time.Minute,
	})
	if err != nil {
		t.Fatalf("starting the forwarder: %v", err)
	}
	t.Cleanup(func() {
		if !f.Exited() {
			if err := f.Stop(30 * time.Second); err != nil {
				t.Errorf("stopping the forwarder: %v", err)
			}
		}
		if t.Failed() {
			t.Logf("forwarder (pid %d) output:\n%s", f.PID(), f.Output())
		}
	})
	return f
}

// sumMetric adds every series of the metric name, whatever its labels.
func sumMetric(m map[string]float64, name string) float64 {
	var sum float64
	for series, v := range m {
		if series == name || strings.HasPrefix(series, name+"{") {
			sum += v
		}
	}
	return sum
}

// waitMetric polls a /metrics until cond holds for the value of series
// (a name, or a name with labels as exposed), and returns the last value.
func waitMetric(t *testing.T, what string, scrape func() (map[string]float64, error), series string, cond func(float64) bool, timeout time.Duration) float64 {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last float64
	var lastErr error
	for {
		m, err := scrape()
		if err == nil {
			v, ok := m[series]
			if !strings.Contains(series, "{") {
				v, ok = sumMetric(m, series), true
			}
			if ok {
				last, lastErr = v, nil
				if cond(v) {
					return v
				}
			} else {
				lastErr = fmt.Errorf("no series %s", series)
			}
		} else {
			lastErr = err
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s did not reach the expected value within %s (last %g, error %v)", what, series, timeout, last, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func equals(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

// fluxEvent is an event as a Flux controller posts it (§1.2), encoded with
// Flux's own type.
func fluxEvent(name, message string, seq int) []byte {
	ev := eventv1.Event{
		InvolvedObject: corev1.ObjectReference{
			Kind: "Kustomization", Namespace: ns, Name: name,
			UID:        types.UID(fmt.Sprintf("7d0cdc51-0000-4000-8000-%012d", len(name))),
			APIVersion: "kustomize.toolkit.fluxcd.io/v1", ResourceVersion: fmt.Sprint(1000 + seq),
		},
		Severity:  eventv1.EventSeverityInfo,
		Timestamp: metav1.NewTime(time.Now().UTC().Truncate(time.Second)),
		Message:   message,
		Reason:    "ReconciliationSucceeded",
		Metadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": revision,
			"kustomize.toolkit.fluxcd.io/token":    fmt.Sprintf("tok-%s-%d", name, seq),
		},
		ReportingController: "kustomize-controller",
		ReportingInstance:   "kustomize-controller-7f9c4d5b6-x2x9q",
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

// post sends one request and returns the status and body; it does not fail
// the test, so that goroutines can use it.
func post(client *http.Client, method, url string, body []byte) (int, http.Header, []byte, error) {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	reply, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, reply, err
}

// delivered is one event the sink received from herald.
type delivered struct {
	Object  string
	Message string
}

// deliveredEvents decodes the sink's requests as Flux events.
func deliveredEvents(t *testing.T, reqs []harness.Request) []delivered {
	t.Helper()
	out := make([]delivered, 0, len(reqs))
	for _, r := range reqs {
		var ev eventv1.Event
		if err := json.Unmarshal(r.Body, &ev); err != nil {
			t.Fatalf("the sink received a body that is not a Flux event: %v\n%.300s", err, r.Body)
		}
		if got := ev.Metadata["cluster"]; got != fwdCluster {
			t.Errorf("event %q delivered with metadata cluster %q, want %q", ev.Message, got, fwdCluster)
		}
		out = append(out, delivered{Object: ev.InvolvedObject.Name, Message: ev.Message})
	}
	return out
}

// waitDelivered polls the sink until every message of want arrived, and
// returns the events received by then.
func waitDelivered(t *testing.T, s *harness.Sink, want []string, timeout time.Duration) []delivered {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := deliveredEvents(t, s.Requests())
		seen := make(map[string]bool, len(got))
		for _, d := range got {
			seen[d.Message] = true
		}
		var missing []string
		for _, m := range want {
			if !seen[m] {
				missing = append(missing, m)
			}
		}
		if len(missing) == 0 {
			return got
		}
		if time.Now().After(deadline) {
			sort.Strings(missing)
			t.Fatalf("%d of %d events not delivered within %s (sink has %d); first missing: %q", len(missing), len(want), timeout, len(got), missing[:min(5, len(missing))])
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// settle waits until the forwarder's buffer is empty and herald has no
// delivery queued, so that the sink holds everything it will ever get, and
// returns what it received.
func settle(t *testing.T, f *harness.Forwarder, h *heraldProc, s *harness.Sink) []delivered {
	t.Helper()
	waitMetric(t, "forwarder buffer", f.Metrics, "herald_forwarder_buffer_events", equals(0), drainMax)
	waitMetric(t, "herald delivery queue", h.Metrics, "herald_delivery_queue_depth", equals(0), drainMax)
	return deliveredEvents(t, s.Requests())
}

// checkOnceInOrder checks that got holds no event twice and that the events
// of each object arrived in the order of want (per object, in order).
func checkOnceInOrder(t *testing.T, got []delivered, want map[string][]string) {
	t.Helper()
	count := map[string]int{}
	for _, d := range got {
		count[d.Message]++
	}
	dups := 0
	for m, n := range count {
		if n > 1 {
			if dups < 5 {
				t.Errorf("event %q delivered %d times", m, n)
			}
			dups++
		}
	}
	if dups > 0 {
		t.Errorf("%d events delivered more than once", dups)
	}
	for obj, msgs := range want {
		pos := make(map[string]int, len(msgs))
		for i, m := range msgs {
			pos[m] = i
		}
		last := -1
		for _, d := range got {
			if d.Object != obj {
				continue
			}
			i, ok := pos[d.Message]
			if !ok {
				continue
			}
			if i < last {
				t.Errorf("object %s: %q delivered after event #%d of its sequence, out of order", obj, d.Message, last)
				break
			}
			last = i
		}
	}
}
