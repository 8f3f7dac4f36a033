package kube_test

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
)

// The tests of this package run against a real API server; see kubetest
// for how to provide one.
func TestMain(m *testing.M) { kubetest.Main(m) }

// patience is how long a test waits for the API server or the watch: generous,
// as CI shares two cores between several builds.
const patience = 60 * time.Second

// newClient builds the forwarder's clients from cfg.
func newClient(t *testing.T, cfg *rest.Config) *kube.Client {
	t.Helper()
	c, err := kube.NewClientForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// requestLog records the requests a client makes.
type requestLog struct {
	mu   sync.Mutex
	seen []string
}

// wrap returns cfg with its requests recorded as "METHOD path".
func (l *requestLog) wrap(cfg *rest.Config) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			l.mu.Lock()
			l.seen = append(l.seen, r.Method+" "+r.URL.Path)
			l.mu.Unlock()
			return rt.RoundTrip(r)
		})
	})
	return cfg
}

// count is how many requests had method and a path ending in suffix.
func (l *requestLog) count(method, suffix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.seen {
		m, path, _ := strings.Cut(s, " ")
		if m == method && strings.HasSuffix(path, suffix) {
			n++
		}
	}
	return n
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// testLogger logs through t, so a failing test shows what the code logged.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
