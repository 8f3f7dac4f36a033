package sender

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/buffer"
	"github.com/heraldhq/herald/cmd/forwarder/internal/metrics"
	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/clusterauth"
)

func TestClassify(t *testing.T) {
	dup := http.Header{clusterauth.HeaderDuplicate: {"true"}}
	for _, c := range []struct {
		name   string
		status int
		h      http.Header
		want   outcome
	}{
		{"accepted", 202, nil, delivered},
		{"ok", 200, nil, delivered},
		{"no content", 204, nil, delivered},
		{"Herald's duplicate", 429, dup, duplicate},
		{"throttled by API Gateway", 429, nil, retry},
		{"429 with another duplicate value", 429, http.Header{clusterauth.HeaderDuplicate: {"false"}}, retry},
		{"duplicate header on a 400", 400, dup, rejected},
		{"request timeout", 408, nil, retry},
		// The token or the clock, not the event: retried on purpose.
		{"unauthorized", 401, nil, retry},
		{"forbidden", 403, nil, retry},
		{"internal error", 500, nil, retry},
		{"not implemented", 501, nil, retry},
		{"bad gateway", 502, nil, retry},
		{"unavailable", 503, nil, retry},
		{"gateway timeout", 504, nil, retry},
		// A redirect is not followed: the URL is wrong, not the event.
		{"moved", 301, nil, retry},
		{"temporary redirect", 307, nil, retry},
		// Any other 4xx is a bad event.
		{"bad request", 400, nil, rejected},
		{"not found", 404, nil, rejected},
		{"conflict", 409, nil, rejected},
		{"too large", 413, nil, rejected},
		{"unprocessable", 422, nil, rejected},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := c.h
			if h == nil {
				h = http.Header{}
			}
			if got := Classify(c.status, h); got != c.want {
				t.Fatalf("Classify(%d, %v) = %v, want %v", c.status, h, got, c.want)
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	for _, c := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"-1", 0}, {"soon", 0},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0},
	} {
		if got := retryAfter(http.Header{"Retry-After": {c.v}}); got != c.want {
			t.Errorf("Retry-After %q = %v, want %v", c.v, got, c.want)
		}
	}
	d := retryAfter(http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}})
	if d < 58*time.Minute || d > time.Hour {
		t.Errorf("Retry-After an hour from now = %v", d)
	}
}

const secret = "s3cr3t-cluster-token-6f2004fc"

// herald is a fake Herald that checks every request's signature and answers
// each event by the function answer, given the event's body and how many
// times it was sent before.
type herald struct {
	t      *testing.T
	token  []byte
	answer func(body string, try int) (int, http.Header)

	mu        sync.Mutex
	tries     map[string]int
	delivered []string      // bodies answered 2xx or as duplicates, in order
	done      chan string   // each body done (delivered, duplicate or rejected)
	attempts  chan struct{} // each request
}

func newHerald(t *testing.T, answer func(body string, try int) (int, http.Header)) (*herald, *httptest.Server) {
	h := &herald{t: t, token: []byte(secret), answer: answer, tries: map[string]int{},
		done: make(chan string, 1000), attempts: make(chan struct{}, 10000)}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

func (h *herald) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		h.t.Errorf("reading the body: %v", err)
		return
	}
	h.attempts <- struct{}{}
	s, err := clusterauth.Parse(r.Header, time.Now())
	if err == nil {
		err = s.Check(h.token, r.Method, r.RequestURI, body)
	}
	if err != nil || s.Cluster != "prod-eu" || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		h.t.Errorf("request %s %s cluster %q: %v", r.Method, r.RequestURI, s.Cluster, err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	h.mu.Lock()
	try := h.tries[string(body)]
	h.tries[string(body)]++
	status, hdr := h.answer(string(body), try)
	ok := status/100 == 2 || hdr.Get(clusterauth.HeaderDuplicate) == "true"
	if ok {
		h.delivered = append(h.delivered, string(body))
	}
	h.mu.Unlock()
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.WriteHeader(status)
	if status >= 400 {
		fmt.Fprintf(w, `{"error":"answer %d"}`, status)
	}
	if ok || Classify(status, hdr) == rejected {
		h.done <- string(body)
	}
}

func tokenFile(t *testing.T) *TokenFile {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &TokenFile{Path: p}
}

type fixture struct {
	buf    *buffer.Buffer
	sender *Sender
	logs   *testlog.Buffer
	m      *metrics.Metrics
}

func newFixture(t *testing.T, srvURL string) *fixture {
	t.Helper()
	buf, err := buffer.Open(t.TempDir(), buffer.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { buf.Close() })
	u, err := url.Parse(srvURL + "/prod/?stage=1")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testlog.Buffer{}
	m := metrics.New(nil)
	s := &Sender{
		Buffer: buf, URL: u, Cluster: "prod-eu", Token: tokenFile(t).Token, Client: &http.Client{Timeout: 10 * time.Second},
		Workers: 4, RetryInitialDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, Grace: time.Minute,
		Metrics: m, Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return &fixture{buf: buf, sender: s, logs: logs, m: m}
}

func (f *fixture) add(t *testing.T, key, body string) {
	t.Helper()
	if err := f.buf.Append(context.Background(), key, []byte(body), time.Now()); err != nil {
		t.Fatal(err)
	}
}

// run starts the sender and returns a function that stops it and waits.
func (f *fixture) run() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.sender.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// wait reads n bodies from ch, failing after a generous deadline that only
// a hung sender reaches.
func wait(t *testing.T, ch <-chan string, n int) []string {
	t.Helper()
	var got []string
	deadline := time.After(30 * time.Second)
	for len(got) < n {
		select {
		case b := <-ch:
			got = append(got, b)
		case <-deadline:
			t.Fatalf("%d of %d events done before the deadline: %q", len(got), n, got)
		}
	}
	return got
}

func (f *fixture) metric(t *testing.T, line string) bool {
	t.Helper()
	w := httptest.NewRecorder()
	f.m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return strings.Contains(w.Body.String(), "\n"+line+"\n")
}

func TestSenderSignsRetriesAndKeepsOrder(t *testing.T) {
	keys := []string{"GitRepository/flux-system/a", "GitRepository/flux-system/b", "Kustomization/apps/c"}
	const perKey = 20
	h, srv := newHerald(t, func(body string, try int) (int, http.Header) {
		// The first event of each object meets an outage twice; a few
		// others are throttled once by the gateway.
		switch {
		case strings.HasSuffix(body, "#0") && try < 2:
			return http.StatusServiceUnavailable, nil
		case strings.HasSuffix(body, "#7") && try == 0:
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"0"}}
		}
		return http.StatusAccepted, nil
	})
	f := newFixture(t, srv.URL)
	for i := range perKey {
		for _, k := range keys {
			f.add(t, k, fmt.Sprintf("%s#%d", k, i))
		}
	}
	stop := f.run()
	wait(t, h.done, perKey*len(keys))
	stop()

	h.mu.Lock()
	defer h.mu.Unlock()
	for _, k := range keys {
		var got []string
		for _, b := range h.delivered {
			if strings.HasPrefix(b, k+"#") {
				got = append(got, b)
			}
		}
		want := make([]string, perKey)
		for i := range want {
			want[i] = fmt.Sprintf("%s#%d", k, i)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s delivered in the order\n%q\nwant\n%q", k, got, want)
		}
		if n := h.tries[k+"#0"]; n != 3 {
			t.Errorf("%s#0 sent %d times, want 3 (two 503s, then 202)", k, n)
		}
		if n := h.tries[k+"#7"]; n != 2 {
			t.Errorf("%s#7 sent %d times, want 2 (throttled, then 202)", k, n)
		}
	}
	if s := f.buf.Stats(); s.Events != 0 {
		t.Errorf("buffer after delivery: %+v", s)
	}
	if !f.metric(t, fmt.Sprintf("herald_forwarder_events_forwarded_total %d", perKey*len(keys))) ||
		!f.metric(t, fmt.Sprintf("herald_forwarder_events_retried_total %d", 3*len(keys))) {
		t.Error("forwarded or retried counters are wrong")
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "will retry") || !strings.Contains(logs, "503 Service Unavailable") {
		t.Errorf("the retries were not logged with their reason:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the token is in the log:\n%s", logs)
	}
}

func TestSenderDropsBadEventsAndAcceptsDuplicates(t *testing.T) {
	h, srv := newHerald(t, func(body string, _ int) (int, http.Header) {
		switch body {
		case "bad":
			return http.StatusBadRequest, nil
		case "gone":
			return http.StatusNotFound, nil
		case "dup":
			return http.StatusTooManyRequests, http.Header{clusterauth.HeaderDuplicate: {"true"}, "Retry-After": {"300"}}
		}
		return http.StatusAccepted, nil
	})
	f := newFixture(t, srv.URL)
	for _, b := range []string{"bad", "gone", "dup", "good"} {
		f.add(t, "k/"+b, b)
	}
	stop := f.run()
	got := wait(t, h.done, 4)
	stop()
	slices.Sort(got)
	if !slices.Equal(got, []string{"bad", "dup", "gone", "good"}) {
		t.Fatalf("done %q", got)
	}
	h.mu.Lock()
	for _, b := range []string{"bad", "gone", "dup", "good"} {
		if h.tries[b] != 1 {
			t.Errorf("%s sent %d times, want once", b, h.tries[b])
		}
	}
	h.mu.Unlock()
	if s := f.buf.Stats(); s.Events != 0 {
		t.Errorf("buffer: %+v; dropped and duplicate events must leave it", s)
	}
	if !f.metric(t, `herald_forwarder_events_dropped_total{reason="rejected"} 2`) ||
		!f.metric(t, "herald_forwarder_events_herald_duplicate_total 1") ||
		!f.metric(t, "herald_forwarder_events_forwarded_total 2") {
		t.Error("dropped, duplicate or forwarded counters are wrong")
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "400 Bad Request") || !strings.Contains(logs, "answer 400") {
		t.Errorf("the dropped event's reason is not logged:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("the token is in the log:\n%s", logs)
	}
}

func TestSenderKeepsEventsWhileHeraldIsDown(t *testing.T) {
	h, srv := newHerald(t, func(string, int) (int, http.Header) { return http.StatusBadGateway, nil })
	f := newFixture(t, srv.URL)
	for i := range 5 {
		f.add(t, fmt.Sprintf("k%d", i), fmt.Sprintf("e%d", i))
	}
	stop := f.run()
	// Every event is tried and retried at least once, then shut down.
	for range 10 {
		select {
		case <-h.attempts:
		case <-time.After(30 * time.Second):
			t.Fatal("the sender stopped trying")
		}
	}
	stop()
	if s := f.buf.Stats(); s.Events != 5 {
		t.Fatalf("buffer after shutdown: %+v; undelivered events must stay", s)
	}
	if strings.Contains(f.logs.String(), secret) {
		t.Errorf("the token is in the log:\n%s", f.logs)
	}
}

func TestSenderConnectionErrorRetried(t *testing.T) {
	// A server that is closed: every try is a connection error.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	f := newFixture(t, deadURL)
	f.add(t, "k", "e")
	rec, err := f.buf.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	out, _, reason := f.sender.send(context.Background(), rec)
	if out != retry {
		t.Fatalf("outcome %v (%s), want retry", out, reason)
	}
	if strings.Contains(reason, deadURL) || strings.Contains(reason, secret) {
		t.Fatalf("reason %q carries the URL or the token", reason)
	}
}

func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "token")
	tf := &TokenFile{Path: p}
	if _, err := tf.Token(); err == nil || strings.Contains(err.Error(), secret) {
		t.Fatalf("missing file: %v", err)
	}
	if err := os.WriteFile(p, []byte("  \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tf.Token(); err == nil {
		t.Fatal("an empty token was accepted")
	}
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := tf.Token(); err != nil || string(tok) != secret {
		t.Fatalf("token %q, %v", tok, err)
	}
	// A rotated Secret: the kubelet swaps the file; its size changes here.
	if err := os.WriteFile(p, []byte("rotated-token-of-another-length"), 0o600); err != nil {
		t.Fatal(err)
	}
	if tok, err := tf.Token(); err != nil || string(tok) != "rotated-token-of-another-length" {
		t.Fatalf("after rotation: %q, %v", tok, err)
	}
}

// replayGuard is a fake Herald with the server's replay guard and
// de-duplication: a signature is accepted once (401 "replayed request"
// after), an accepted body again is a duplicate. lose says which tries'
// answers are lost after the request was accepted (a gateway timeout), and
// refuse which are answered as replays whatever they carry (a proxy that
// sent the request twice and passed on the second answer).
type replayGuard struct {
	t      *testing.T
	lose   func(try int) bool
	refuse func(try int) bool

	mu          sync.Mutex
	try         int
	seen        map[string]bool // replay keys
	accepted    map[string]int  // bodies
	nonces      map[string]bool
	done        chan string
	replays     int
	sameSeconds int
	lastTS      string
}

func (g *replayGuard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s, err := clusterauth.Parse(r.Header, time.Unix(1764000000, 0))
	if err == nil {
		err = s.Check([]byte(secret), r.Method, r.RequestURI, body)
	}
	if err != nil {
		g.t.Errorf("request refused: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	try := g.try
	g.try++
	if g.nonces[s.Nonce] {
		g.t.Errorf("try %d reuses nonce %s", try, s.Nonce)
	}
	g.nonces[s.Nonce] = true
	if s.Timestamp == g.lastTS {
		g.sameSeconds++
	}
	g.lastTS = s.Timestamp
	if g.seen[s.ReplayKey()] || g.refuse(try) {
		g.replays++
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":"replayed request"}`)
		return
	}
	g.seen[s.ReplayKey()] = true
	g.accepted[string(body)]++
	switch {
	case g.accepted[string(body)] > 1:
		w.Header().Set(clusterauth.HeaderDuplicate, "true")
		w.WriteHeader(http.StatusTooManyRequests)
		g.done <- string(body)
	case g.lose(try):
		w.WriteHeader(http.StatusGatewayTimeout)
	default:
		w.WriteHeader(http.StatusAccepted)
		g.done <- string(body)
	}
}

// TestSenderRetriesAreNotReplays: the forwarder's retries of one event, all
// signed within the same second, carry fresh nonces, so Herald's replay
// guard never refuses them. A retry of an event whose first copy was
// accepted but whose answer was lost is then a duplicate, done; an answer
// "replayed request" (a copy of the request that reached Herald first) is
// retried like any 401, signed anew, and the event is not lost.
func TestSenderRetriesAreNotReplays(t *testing.T) {
	for name, c := range map[string]struct {
		lose, refuse   func(int) bool
		tries, replays int
	}{
		// Accepted, answer lost; the retry is a duplicate.
		"lost answer": {lose: func(try int) bool { return try == 0 }, refuse: func(int) bool { return false }, tries: 2},
		// Refused twice as a replay; the third try is accepted.
		"refused as a replay": {lose: func(int) bool { return false }, refuse: func(try int) bool { return try < 2 }, tries: 3, replays: 2},
	} {
		t.Run(name, func(t *testing.T) {
			g := &replayGuard{t: t, lose: c.lose, refuse: c.refuse, seen: map[string]bool{}, accepted: map[string]int{},
				nonces: map[string]bool{}, done: make(chan string, 10)}
			srv := httptest.NewServer(g)
			t.Cleanup(srv.Close)
			f := newFixture(t, srv.URL)
			f.sender.Now = func() time.Time { return time.Unix(1764000000, 0) } // every try in the same second
			f.add(t, "Kustomization/apps/podinfo", "event")
			stop := f.run()
			wait(t, g.done, 1)
			stop()

			g.mu.Lock()
			defer g.mu.Unlock()
			if g.try != c.tries || g.sameSeconds != c.tries-1 {
				t.Errorf("%d tries, %d of them in the second of the one before; want %d, all in one second", g.try, g.sameSeconds, c.tries)
			}
			if g.replays != c.replays {
				t.Errorf("%d tries refused as replays, want %d", g.replays, c.replays)
			}
			if s := f.buf.Stats(); s.Events != 0 {
				t.Errorf("the event is still buffered: %+v", s)
			}
			if f.metric(t, `herald_forwarder_events_dropped_total{reason="rejected"} 1`) {
				t.Error("the event was dropped")
			}
		})
	}
}
