package server

import (
	"io"
	"net/http"
	"sync"
	"time"
)

// Inbox is a webhook sink for trying Herald locally: providers in the
// example config post to /inbox/..., and GET /inbox lists the last requests
// received, so a newcomer sees exactly what a provider would receive.
type Inbox struct {
	mu       sync.Mutex
	requests []InboxRequest
	limit    int
}

// InboxRequest is one request the inbox received.
type InboxRequest struct {
	Received time.Time         `json:"received"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
}

// NewInbox keeps the last limit requests.
func NewInbox(limit int) *Inbox { return &Inbox{limit: limit} }

// Register mounts the inbox on mux.
func (in *Inbox) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /inbox/", in.receive)
	mux.HandleFunc("PUT /inbox/", in.receive)
	mux.HandleFunc("GET /inbox", in.list)
}

func (in *Inbox) receive(w http.ResponseWriter, r *http.Request) {
	body, status, err := readBody(w, r, MaxEventBytes)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	headers := make(map[string]string, len(r.Header))
	for k := range r.Header {
		headers[k] = r.Header.Get(k)
	}
	// Credentials are the user's own, but a list anyone on loopback can read
	// has no reason to show them.
	if _, ok := headers["Authorization"]; ok {
		headers["Authorization"] = "<redacted>"
	}
	in.mu.Lock()
	in.requests = append(in.requests, InboxRequest{Received: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Headers: headers, Body: string(body)})
	if len(in.requests) > in.limit {
		in.requests = in.requests[len(in.requests)-in.limit:]
	}
	in.mu.Unlock()
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "{\"ok\":true}\n")
}

func (in *Inbox) list(w http.ResponseWriter, _ *http.Request) {
	in.mu.Lock()
	out := make([]InboxRequest, len(in.requests))
	copy(out, in.requests)
	in.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}
