package harness

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Request is one request a Sink received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	Body     []byte
	At       time.Time
	// Status is what the sink answered.
	Status int
}

func (r Request) String() string {
	return fmt.Sprintf("%s %s (answered %d) headers=%v body=%s", r.Method, r.Path, r.Status, r.Header, r.Body)
}

// Responder chooses the answer to the n-th request (0-based).
type Responder func(n int, r *http.Request) (status int, header http.Header)

// AlwaysStatus answers every request with status.
func AlwaysStatus(status int) Responder {
	return func(int, *http.Request) (int, http.Header) { return status, nil }
}

// StatusSequence answers the n-th request with statuses[n] and every request
// after the sequence with its last element.
func StatusSequence(statuses ...int) Responder {
	return func(n int, _ *http.Request) (int, http.Header) {
		if n >= len(statuses) {
			return statuses[len(statuses)-1], nil
		}
		return statuses[n], nil
	}
}

// Sink is a local notification endpoint that records every request.
type Sink struct {
	srv     *httptest.Server
	respond Responder

	mu      sync.Mutex
	reqs    []Request
	changed chan struct{} // closed and replaced on every request
}

// NewSink starts a recording sink on loopback.
func NewSink(respond Responder) *Sink {
	if respond == nil {
		respond = AlwaysStatus(http.StatusOK)
	}
	s := &Sink{respond: respond, changed: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	n := len(s.reqs)
	status, header := s.respond(n, r)
	s.reqs = append(s.reqs, Request{
		Method:   r.Method,
		Path:     r.URL.Path,
		RawQuery: r.URL.RawQuery,
		Header:   r.Header.Clone(),
		Body:     body,
		At:       time.Now(),
		Status:   status,
	})
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	for k, vs := range header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(status)
	if status >= 300 {
		fmt.Fprintf(w, "sink answers %d", status)
	}
}

// URL is the sink's base URL, http://127.0.0.1:PORT.
func (s *Sink) URL() string { return s.srv.URL }

// Requests returns a copy of the requests received so far.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// WaitFor waits until at least n requests arrived, and returns them.
func (s *Sink) WaitFor(n int, timeout time.Duration) ([]Request, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		got := len(s.reqs)
		changed := s.changed
		s.mu.Unlock()
		if got >= n {
			return s.Requests(), nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return s.Requests(), fmt.Errorf("sink got %d request(s) within %s, want %d", got, timeout, n)
		}
	}
}

// WaitForBody waits until a request whose body contains substr arrives.
func (s *Sink) WaitForBody(substr string, timeout time.Duration) (Request, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		changed := s.changed
		for _, r := range s.reqs {
			if strings.Contains(string(r.Body), substr) {
				s.mu.Unlock()
				return r, nil
			}
		}
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			return Request{}, fmt.Errorf("no request with %q in its body within %s", substr, timeout)
		}
	}
}

// Close stops the sink.
func (s *Sink) Close() { s.srv.Close() }

// WaitForStatus waits for the first request the sink answered with status.
func (s *Sink) WaitForStatus(status int, timeout time.Duration) (Request, error) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for _, r := range s.reqs {
			if r.Status == status {
				s.mu.Unlock()
				return r, nil
			}
		}
		changed := s.changed
		s.mu.Unlock()
		select {
		case <-changed:
		case <-deadline:
			return Request{}, fmt.Errorf("no request answered %d within %s", status, timeout)
		}
	}
}
