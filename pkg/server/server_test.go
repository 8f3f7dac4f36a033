package server

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// serveLimited serves h as herald serve does, with lim, on a loopback port;
// ConnState, when given, sees every change of a connection's state.
func serveLimited(t *testing.T, h http.Handler, lim Limits, connState func(net.Conn, http.ConnState)) string {
	t.Helper()
	srv := NewHTTPServer("", h, lim)
	srv.ConnState = connState
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lim.Listener(ln)) }()
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// TestWriteTimeoutCutsASlowReader: a client that sends a request and never
// reads the answer must not hold a handler (and its memory) for longer
// than the write timeout. The handler writes until a write fails; without
// a write deadline it blocks for good once the socket buffers are full.
func TestWriteTimeoutCutsASlowReader(t *testing.T) {
	const timeout = 500 * time.Millisecond
	writeErr := make(chan error, 1)
	addr := serveLimited(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		chunk := make([]byte, 64<<10)
		for i := 0; i < 1<<14; i++ { // 1 GiB at most
			if _, err := w.Write(chunk); err != nil {
				writeErr <- err
				return
			}
		}
		writeErr <- nil
	}), Limits{WriteTimeout: timeout}, nil)

	// The server's deadline starts once it has read the request, after
	// start: the handler cannot be cut off sooner than timeout after it.
	start := time.Now()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /inbox HTTP/1.1\r\nHost: herald\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The client never reads. The bound below only decides when to give up.
	select {
	case err := <-writeErr:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the handler's write ended with %v; want the write deadline", err)
		}
		if took := time.Since(start); took < timeout {
			t.Fatalf("cut off after %v, before the write timeout of %v", took, timeout)
		}
	case <-time.After(60 * timeout):
		t.Fatalf("a client that never reads held the handler for %v: no write deadline", 60*timeout)
	}
}

// connLog records, in order, connections' state changes and the requests
// served, so that a test waits on states rather than on time.
type connLog struct {
	mu      sync.Mutex
	entries []string
	changed chan struct{}
}

func newConnLog() *connLog { return &connLog{changed: make(chan struct{}, 1000)} }

func (l *connLog) add(s string) {
	l.mu.Lock()
	l.entries = append(l.entries, s)
	l.mu.Unlock()
	l.changed <- struct{}{}
}

// count is how many entries equal s.
func (l *connLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.entries {
		if e == s {
			n++
		}
	}
	return n
}

func (l *connLog) waitFor(t *testing.T, s string, n int) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for l.count(s) < n {
		select {
		case <-l.changed:
		case <-deadline:
			t.Fatalf("waited 10 s for %d %q; log: %v", n, s, l.snapshot())
		}
	}
}

func (l *connLog) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.entries...)
}

// request sends one GET on conn and reads its answer's status line, within
// wait.
func request(conn net.Conn, r *bufio.Reader, wait time.Duration) (string, error) {
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: herald\r\n\r\n"); err != nil {
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

// TestMaxConnections holds the bound's worth of connections open (idle,
// after one request each, as keep-alive clients leave them): the next
// connection is not served until one of them closes, and then it is.
func TestMaxConnections(t *testing.T) {
	const max = 3
	log := newConnLog()
	addr := serveLimited(t, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		log.add("served")
		w.WriteHeader(http.StatusOK)
	}), Limits{MaxConnections: max}, func(_ net.Conn, s http.ConnState) { log.add(s.String()) })

	var held []net.Conn
	for i := range max {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if status, err := request(c, bufio.NewReader(c), 10*time.Second); err != nil || status != "200 OK" {
			t.Fatalf("connection %d: %q %v", i+1, status, err)
		}
		held = append(held, c)
	}
	log.waitFor(t, "idle", max)

	extra, err := net.Dial("tcp", addr) // the kernel completes the handshake; the server does not accept
	if err != nil {
		t.Fatal(err)
	}
	defer extra.Close()
	extraR := bufio.NewReader(extra)
	if status, err := request(extra, extraR, time.Second); err == nil {
		t.Fatalf("connection %d was served (%s) while %d were open", max+1, status, max)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("connection %d: %v; want it left waiting", max+1, err)
	}
	if n := log.count("new"); n != max {
		t.Fatalf("%d connections accepted, want %d: %v", n, max, log.snapshot())
	}

	// One closes: the waiting connection is accepted and its request,
	// already sent, is answered.
	held[0].Close()
	log.waitFor(t, "closed", 1)
	_ = extra.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(extraR, nil)
	if err != nil {
		t.Fatalf("connection %d after one closed: %v; log: %v", max+1, err, log.snapshot())
	}
	resp.Body.Close()
	// The listener frees the slot when the connection is closed, before
	// the server reports it closed: only the count can be checked.
	if n := log.count("served"); n != max+1 {
		t.Fatalf("%d requests served, want %d: %v", n, max+1, log.snapshot())
	}
}
