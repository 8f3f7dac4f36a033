package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/pkg/clusterauth"
)

const token = "poll-token-9a7c"

// fakeKube applies requests by name: result[name] is what Annotate
// answers (one object patched when absent).
type fakeKube struct {
	mu      sync.Mutex
	result  map[string]func() (int, error)
	applied []kube.Target
	values  []string
}

func (f *fakeKube) Annotate(_ context.Context, t kube.Target, value string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, t)
	f.values = append(f.values, value)
	if r, ok := f.result[t.Name]; ok {
		return r()
	}
	return 1, nil
}

func (f *fakeKube) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, t := range f.applied {
		out = append(out, t.Name)
	}
	return out
}

// fakeHerald serves the poll: the requests with an ID above after, at most
// page of them, after checking the signature over the target as sent.
type fakeHerald struct {
	t        *testing.T
	mu       sync.Mutex
	requests []Request
	page     int
	status   int    // answer this status instead, when set
	raw      string // answer this body instead, when set
	afters   chan string
	seen     map[string]bool // replay keys: a signature is answered once, as by Herald
}

func (h *fakeHerald) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s, err := clusterauth.Parse(r.Header, time.Now())
	if err == nil {
		err = s.Check([]byte(token), r.Method, r.RequestURI, nil)
	}
	if err != nil || s.Cluster != "prod-eu" || r.Method != http.MethodGet || r.URL.Path != "/prod/reconcile-requests" {
		h.t.Errorf("poll %s %s from %q: %v", r.Method, r.RequestURI, s.Cluster, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	replayed := h.seen[s.ReplayKey()]
	h.seen[s.ReplayKey()] = true
	h.mu.Unlock()
	if replayed {
		h.t.Errorf("poll %s signed as one before it", r.RequestURI)
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"replayed request"}`)
		return
	}
	after := r.URL.Query().Get("after")
	select {
	case h.afters <- after:
	default:
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.status != 0 {
		w.WriteHeader(h.status)
		io.WriteString(w, `{"error":"listing reconcile requests failed"}`)
		return
	}
	if h.raw != "" {
		io.WriteString(w, h.raw)
		return
	}
	resp := pollResponse{Requests: []Request{}, Cursor: after}
	n, _ := strconv.Atoi(after)
	for _, req := range h.requests {
		id, _ := strconv.Atoi(req.ID)
		if id > n && (h.page == 0 || len(resp.Requests) < h.page) {
			resp.Requests = append(resp.Requests, req)
			resp.Cursor = req.ID
		}
	}
	_ = json.NewEncoder(w).Encode(resp)
}

var requestedAt = time.Date(2026, 11, 22, 3, 4, 41, 500, time.FixedZone("CET", 3600))

func request(id int, name string) Request {
	return Request{ID: strconv.Itoa(id), APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository",
		Namespace: "flux-system", Name: name, Receiver: "flux-system/github", RequestedAt: requestedAt}
}

func newPoller(t *testing.T, requests ...Request) (*Poller, *fakeHerald, *fakeKube) {
	t.Helper()
	h := &fakeHerald{t: t, requests: requests, afters: make(chan string, 1000), seen: map[string]bool{}}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL + "/prod/")
	if err != nil {
		t.Fatal(err)
	}
	k := &fakeKube{result: map[string]func() (int, error){}}
	p := &Poller{
		URL: u.JoinPath("reconcile-requests"), Cluster: "prod-eu", Token: func() ([]byte, error) { return []byte(token), nil },
		Client: srv.Client(), Kube: k, Interval: time.Millisecond,
		CursorFile: filepath.Join(t.TempDir(), "reconcile-cursor"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	return p, h, k
}

func TestPollOnceApplies(t *testing.T) {
	all := request(3, "*")
	all.MatchLabels = map[string]string{"app": "podinfo"}
	p, h, k := newPoller(t, request(1, "podinfo"), request(2, "other"), all)
	cursor, more, err := p.PollOnce(context.Background(), "")
	if err != nil || cursor != "3" || more {
		t.Fatalf("PollOnce = %q, %v, %v; want cursor 3", cursor, more, err)
	}
	if got := <-h.afters; got != "" {
		t.Fatalf("polled after %q", got)
	}
	if n := k.names(); fmt.Sprint(n) != "[podinfo other *]" {
		t.Fatalf("applied %v in that order", n)
	}
	want := kube.Target{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "flux-system", Name: "*",
		MatchLabels: map[string]string{"app": "podinfo"}}
	got := k.applied[2]
	if got.APIVersion != want.APIVersion || got.Kind != want.Kind || got.Namespace != want.Namespace || !maps.Equal(got.MatchLabels, want.MatchLabels) {
		t.Fatalf("target %+v, want %+v", got, want)
	}
	// The request's own time, as Flux's receiver writes it, so applying
	// it twice does not reconcile twice.
	if v := k.values[0]; v != requestedAt.UTC().String() {
		t.Fatalf("requestedAt value %q, want %q", v, requestedAt.UTC().String())
	}

	// Polled again from the cursor: nothing new, nothing applied twice.
	cursor, _, err = p.PollOnce(context.Background(), cursor)
	if err != nil || cursor != "3" || len(k.names()) != 3 {
		t.Fatalf("second poll = %q, %v; applied %v", cursor, err, k.names())
	}
	if got := <-h.afters; got != "3" {
		t.Fatalf("polled after %q, want 3", got)
	}
}

// TestPollsInOneSecondAreNotReplays: polls with the same cursor signed in
// the same second differ (a fresh nonce each), so that Herald's replay
// guard answers every one.
func TestPollsInOneSecondAreNotReplays(t *testing.T) {
	p, h, _ := newPoller(t)
	now := time.Now()
	p.Now = func() time.Time { return now }
	for i := range 3 {
		if cursor, _, err := p.PollOnce(context.Background(), "7"); err != nil || cursor != "7" {
			t.Fatalf("poll %d = %q, %v", i+1, cursor, err)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.seen) != 3 {
		t.Fatalf("%d signatures for 3 polls", len(h.seen))
	}
}

func TestPollOnceCursor(t *testing.T) {
	transient := errors.New("the API server is unreachable")
	for _, c := range []struct {
		name       string
		result     func() (int, error)
		wantCursor string
		wantErr    bool
	}{
		{"applied", func() (int, error) { return 2, nil }, "3", false},
		{"object missing: skipped", func() (int, error) { return 0, nil }, "3", false},
		{"failed for good: skipped", func() (int, error) { return 0, fmt.Errorf("%w: forbidden", kube.ErrPermanent) }, "3", false},
		{"transient failure: kept", func() (int, error) { return 0, transient }, "1", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, _, k := newPoller(t, request(1, "a"), request(2, "b"), request(3, "c"))
			k.result["b"] = c.result
			cursor, _, err := p.PollOnce(context.Background(), "")
			if cursor != c.wantCursor || (err != nil) != c.wantErr {
				t.Fatalf("PollOnce = %q, %v; want cursor %s, error %v", cursor, err, c.wantCursor, c.wantErr)
			}
			if c.wantErr {
				if !errors.Is(err, transient) {
					t.Fatalf("error %v does not wrap the cause", err)
				}
				// Nothing after the failed request was applied, and the
				// next poll tries it again.
				if n := k.names(); fmt.Sprint(n) != "[a b]" {
					t.Fatalf("applied %v", n)
				}
				delete(k.result, "b")
				cursor, _, err = p.PollOnce(context.Background(), cursor)
				if err != nil || cursor != "3" || fmt.Sprint(k.names()) != "[a b b c]" {
					t.Fatalf("retry = %q, %v; applied %v", cursor, err, k.names())
				}
			}
		})
	}
}

func TestPollOnceHeraldFailures(t *testing.T) {
	for _, c := range []struct {
		name   string
		status int
		raw    string
	}{
		{"server error", http.StatusInternalServerError, ""},
		{"unauthorized", http.StatusUnauthorized, ""},
		{"not JSON", 0, "<html>gateway</html>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, h, k := newPoller(t, request(1, "a"))
			h.status, h.raw = c.status, c.raw
			cursor, more, err := p.PollOnce(context.Background(), "7")
			if err == nil || cursor != "7" || more || len(k.names()) != 0 {
				t.Fatalf("PollOnce = %q, %v, %v; applied %v", cursor, more, err, k.names())
			}
		})
	}
}

func TestPollOnceFullPage(t *testing.T) {
	var reqs []Request
	for i := 1; i <= 150; i++ {
		reqs = append(reqs, request(i, fmt.Sprintf("r%d", i)))
	}
	p, h, _ := newPoller(t, reqs...)
	h.page = 100
	cursor, more, err := p.PollOnce(context.Background(), "")
	if err != nil || cursor != "100" || !more {
		t.Fatalf("full page: %q, %v, %v; want cursor 100 and more", cursor, more, err)
	}
	cursor, more, err = p.PollOnce(context.Background(), cursor)
	if err != nil || cursor != "150" || more {
		t.Fatalf("last page: %q, %v, %v", cursor, more, err)
	}
}

// run starts p.Run and returns a function that stops it and waits.
func run(p *Poller) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// waitAfter waits for a poll after cursor want.
func waitAfter(t *testing.T, afters <-chan string, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-afters:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("no poll after %q", want)
		}
	}
}

func TestCursorSurvivesRestart(t *testing.T) {
	p, h, k := newPoller(t, request(5, "a"), request(6, "b"))
	stop := run(p)
	// Run saves the cursor before it polls again.
	waitAfter(t, h.afters, "6")
	stop()
	data, err := os.ReadFile(p.CursorFile)
	if err != nil || string(data) != "6\n" {
		t.Fatalf("cursor file %q, %v", data, err)
	}
	if n := k.names(); fmt.Sprint(n) != "[a b]" {
		t.Fatalf("applied %v", n)
	}

	// A new forwarder process with the same folder.
	p2 := *p
	k2 := &fakeKube{}
	p2.Kube = k2
	for len(h.afters) > 0 {
		<-h.afters
	}
	stop = run(&p2)
	var first string
	select {
	case first = <-h.afters:
	case <-time.After(30 * time.Second):
		t.Fatal("the restarted poller does not poll")
	}
	stop()
	if first != "6" {
		t.Fatalf("after a restart the first poll is after %q, want 6", first)
	}
	if len(k2.names()) != 0 {
		t.Fatalf("requests applied again after the restart: %v", k2.names())
	}
	entries, _ := os.ReadDir(filepath.Dir(p.CursorFile))
	if len(entries) != 1 {
		t.Fatalf("files beside the cursor: %v", entries)
	}
}

func TestCursorKeptOnTransientFailure(t *testing.T) {
	p, h, k := newPoller(t, request(1, "a"), request(2, "b"))
	k.result["b"] = func() (int, error) { return 0, errors.New("timeout") }
	stop := run(p)
	// Two polls after 1: the failed request is tried again, not skipped.
	waitAfter(t, h.afters, "1")
	waitAfter(t, h.afters, "1")
	stop()
	data, err := os.ReadFile(p.CursorFile)
	if err != nil || string(data) != "1\n" {
		t.Fatalf("cursor file %q, %v; want 1", data, err)
	}
}
