package agent

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteTimeoutCutsASlowReader: a client that sends a request and never
// reads the answer must not hold a handler longer than --write-timeout. The
// handler writes until a write fails; without a write deadline it blocks
// for good once the socket buffers are full.
func TestWriteTimeoutCutsASlowReader(t *testing.T) {
	const timeout = 500 * time.Millisecond
	writeErr := make(chan error, 1)
	srv := newServer(Config{WriteTimeout: timeout}, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1<<14; i++ { // 1 GiB at most
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /metrics HTTP/1.1\r\nHost: forwarder\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-writeErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the handler's write ended with %v; want the write deadline", err)
		}
	case <-time.After(60 * timeout):
		t.Fatalf("a client that never reads held the handler for %v: no write deadline", 60*timeout)
	}
}

// get sends one GET on conn and reads the answer's status, within wait.
func get(conn net.Conn, r *bufio.Reader, wait time.Duration) (string, error) {
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: forwarder\r\n\r\n"); err != nil {
		return "", err
	}
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		return "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Status, nil
}

// TestRunMaxConnections runs the forwarder with --max-connections 2 and
// holds two connections open (idle, after one request each, as Flux's
// keep-alive clients leave them): a third is not served until one of them
// closes, and then it is.
func TestRunMaxConnections(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0ken"), 0o600); err != nil {
		t.Fatal(err)
	}
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer herald.Close()
	u, _ := url.Parse(herald.URL + "/")
	const max = 2
	cfg := Config{
		Addr: "127.0.0.1:0", HeraldURL: u, Cluster: "prod", TokenFile: token, BufferDir: dir,
		BufferMaxBytes: 1 << 20, NoKube: true, PollInterval: time.Second, RetryMaxDelay: time.Second,
		SendWorkers: 1, ShutdownGrace: time.Second, LogLevel: "info",
		WriteTimeout: time.Minute, MaxConnections: max,
	}
	logs, lines := logLines(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	addr := waitLog(t, lines, "forwarder listening")["addr"].(string)

	var held []net.Conn
	for i := range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// An answer means the connection was accepted; it stays open.
		if status, err := get(c, bufio.NewReader(c), 10*time.Second); err != nil || status != "200 OK" {
			t.Fatalf("connection %d: %q %v", i+1, status, err)
		}
		held = append(held, c)
	}

	extra, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extraR := bufio.NewReader(extra)
	if status, err := get(extra, extraR, time.Second); err == nil {
		t.Fatalf("connection %d was served (%s) while %d were open", max+1, status, max)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("connection %d: %v; want it left waiting", max+1, err)
	}

	// One closes: the waiting connection is accepted and its request,
	// already sent, is answered.
	held[0].Close()
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(extraR, nil)
	if err != nil {
		t.Fatalf("connection %d after one closed: %v", max+1, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("connection %d after one closed: %s", max+1, resp.Status)
	}
	// Shutdown must not wait for the connections still held.
	held[1].Close()
	extra.Close()
}
