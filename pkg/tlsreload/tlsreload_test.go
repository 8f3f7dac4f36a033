package tlsreload_test

import (
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/tlsreload"
	"github.com/heraldhq/herald/pkg/tlsreload/tlsreloadtest"
)

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// serveTLS serves 204 over TLS with r's configuration and returns its URL.
func serveTLS(t *testing.T, r *tlsreload.Reloader) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }),
		TLSConfig:         r.TLSConfig(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() { srv.Close() })
	return "https://" + ln.Addr().String() + "/"
}

func servedSerial(t *testing.T, c *http.Client, url string) int64 {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return tlsreloadtest.ServedSerial(t, resp)
}

func TestReloadsAReplacedPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlsreloadtest.NewCA(t)
	ca.WriteServerCert(t, certFile, keyFile, 100)
	clk := &clock{now: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	var errs []error
	var errMu sync.Mutex
	r, err := tlsreload.New(certFile, keyFile, tlsreload.WithClock(clk.Now), tlsreload.WithErrorHandler(func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		errs = append(errs, err)
	}))
	if err != nil {
		t.Fatal(err)
	}
	url, client := serveTLS(t, r), ca.Client()
	if got := servedSerial(t, client, url); got != 100 {
		t.Fatalf("serial %d, want 100", got)
	}

	ca.WriteServerCert(t, certFile, keyFile, 200)
	// Within CheckInterval of the last check the files are not looked at.
	clk.Add(tlsreload.CheckInterval / 2)
	if got := servedSerial(t, client, url); got != 100 {
		t.Fatalf("serial %d before the check interval, want 100", got)
	}
	clk.Add(tlsreload.CheckInterval / 2)
	if got := servedSerial(t, client, url); got != 200 {
		t.Fatalf("serial %d after the files changed, want 200", got)
	}

	// A half-replaced pair (a new certificate, the old key) is reported and
	// the last good certificate stays in use until the key follows.
	other := t.TempDir()
	ca.WriteServerCert(t, filepath.Join(other, "tls.crt"), filepath.Join(other, "tls.key"), 300)
	newKey, err := os.ReadFile(filepath.Join(other, "tls.key"))
	if err != nil {
		t.Fatal(err)
	}
	replace(t, certFile, filepath.Join(other, "tls.crt"))
	clk.Add(tlsreload.CheckInterval)
	if got := servedSerial(t, client, url); got != 200 {
		t.Fatalf("serial %d with a mismatched key, want 200", got)
	}
	errMu.Lock()
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "private key does not match") || strings.Contains(errs[0].Error(), string(newKey)) {
		t.Fatalf("errors %v", errs)
	}
	errMu.Unlock()
	replace(t, keyFile, filepath.Join(other, "tls.key"))
	clk.Add(tlsreload.CheckInterval)
	if got := servedSerial(t, client, url); got != 300 {
		t.Fatalf("serial %d once the key followed, want 300", got)
	}
}

// replace moves src over dst with a modification time a second later.
func replace(t *testing.T, dst, src string) {
	t.Helper()
	fi, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	next := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(src, next, next); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(src, dst); err != nil {
		t.Fatal(err)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if _, err := tlsreload.New(certFile, ""); err == nil {
		t.Error("New without a key file succeeded")
	}
	if _, err := tlsreload.New(certFile, keyFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New with missing files: %v", err)
	}
	if err := os.WriteFile(certFile, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte("not PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tlsreload.New(certFile, keyFile); err == nil || !strings.Contains(err.Error(), certFile) {
		t.Errorf("New with bad PEM: %v", err)
	}
}
