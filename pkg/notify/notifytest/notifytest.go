// Package notifytest is the test kit every provider's tests use: the
// reference events of the behaviour reference, a recording HTTP sink, golden
// request files, the shared retry table and the secret-leak check.
package notifytest

import (
	"bytes"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
)

// Revision is the revision of the reference event.
const Revision = "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"

// ReferenceEvent is the event of the behaviour reference §4.2: Kustomization
// flux-system/podinfo after metadata combination. severity is "info" or
// "error"; withMetadata adds {revision: Revision}.
func ReferenceEvent(severity string, withMetadata bool) event.Event {
	ev := event.Event{
		InvolvedObject: event.ObjectReference{
			Kind:       "Kustomization",
			Namespace:  "flux-system",
			Name:       "podinfo",
			UID:        "7d0cdc51-ddcf-4743-b223-83ca5c699632",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1",
		},
		Severity:            severity,
		Timestamp:           event.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)),
		Message:             "Applied revision: " + Revision,
		Reason:              "ReconciliationSucceeded",
		ReportingController: "kustomize-controller",
		ReportingInstance:   "kustomize-controller-7c7b47f5f-8bhrp",
	}
	if withMetadata {
		ev.Metadata = map[string]string{"revision": Revision}
	}
	return ev
}

// ReferenceEventV1 is ReferenceEvent as a v1 event payload: the same fields
// plus action "Reconciled" and the GitRepository flux-system/flux-system as
// related object.
func ReferenceEventV1(severity string, withMetadata bool) event.Event {
	ev := ReferenceEvent(severity, withMetadata)
	ev.Action = event.NewAction("Reconciled")
	ev.RelatedObject = &event.ObjectReference{
		Kind:       "GitRepository",
		Namespace:  "flux-system",
		Name:       "flux-system",
		APIVersion: "source.toolkit.fluxcd.io/v1",
	}
	return ev
}

// FluxTestEvent is testEvent() of Flux's internal/notifier/client_test.go,
// at the time forwarder_test.go gives it for the HMAC vector.
func FluxTestEvent() event.Event {
	return event.Event{
		InvolvedObject: event.ObjectReference{
			Kind:      "GitRepository",
			Namespace: "gitops-system",
			Name:      "webapp",
		},
		Severity:            event.SeverityInfo,
		Timestamp:           event.NewTime(time.Unix(1664520029, 0)),
		Message:             "message",
		Reason:              "reason",
		Metadata:            map[string]string{"test": "metadata"},
		ReportingController: "source-controller",
		ReportingInstance:   "source-controller-xyz",
	}
}

// Request is a request as the server received it.
type Request struct {
	Method string
	// URI is the request target: path and query, or the absolute URL a
	// client sends to a proxy.
	URI    string
	Header http.Header
	Body   []byte
}

// Sink is an httptest server that records every request, then lets Respond
// answer it (with the body readable again). A nil Respond answers 200.
type Sink struct {
	*httptest.Server

	mu      sync.Mutex
	reqs    []Request
	respond http.HandlerFunc
}

// NewSink starts a recording server, closed when the test ends.
func NewSink(t testing.TB, respond http.HandlerFunc) *Sink {
	s := &Sink{respond: respond}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// NewTLSSink is NewSink over TLS; use its Client or Certificate.
func NewTLSSink(t testing.TB, respond http.HandlerFunc) *Sink {
	s := &Sink{respond: respond}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	// Tests provoke handshake failures on purpose; keep them out of the log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *Sink) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.reqs = append(s.reqs, Request{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone(), Body: body})
	s.mu.Unlock()
	if s.respond == nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	s.respond(w, r)
}

// Requests returns the requests received so far.
func (s *Sink) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// Last returns the last request, failing the test if there was none.
func (s *Sink) Last(t testing.TB) Request {
	t.Helper()
	reqs := s.Requests()
	if len(reqs) == 0 {
		t.Fatal("the sink received no request")
	}
	return reqs[len(reqs)-1]
}

// Status answers every request with code, the given headers (name, value
// pairs) and body.
func Status(code int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// Echo answers code with the whole request in the body, as some servers put
// the request into their error replies.
func Echo(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		buf.WriteString(r.Method + " " + r.RequestURI + " " + r.URL.String() + "\n")
		_ = r.Header.Write(&buf)
		buf.WriteString("\n")
		_, _ = io.Copy(&buf, r.Body)
		w.WriteHeader(code)
		_, _ = w.Write(buf.Bytes())
	}
}

// Redirect answers every request with code and a Location on target
// (scheme://host:port), keeping the request's path and query, as a webhook
// host that moved would.
func Redirect(code int, target string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.RequestURI(), code)
	}
}
