package notifytest

import (
	"bytes"
	"io"
	"net/http"
	"sync"
)

// Recorder keeps, in order, the requests a fake host API received. The
// fakes of the Git hosts embed it, so that tests can assert the exact
// sequence of calls.
type Recorder struct {
	mu   sync.Mutex
	reqs []Request
}

// Record keeps r and gives its body back to r for the handler. A body that
// cannot be read is an error the fake answers with 400.
func (rec *Recorder) Record(r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	rec.mu.Lock()
	rec.reqs = append(rec.reqs, Request{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
	rec.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	return nil
}

// Requests returns every request received, in order.
func (rec *Recorder) Requests() []Request {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]Request(nil), rec.reqs...)
}

// Calls returns the request lines received, "METHOD /path?query", in order.
func (rec *Recorder) Calls() []string {
	var calls []string
	for _, r := range rec.Requests() {
		calls = append(calls, r.Method+" "+r.URI)
	}
	return calls
}
