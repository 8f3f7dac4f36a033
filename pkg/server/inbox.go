package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
	"unicode/utf8"
)

// The inbox's bounds. It is a sink for trying Herald on one machine,
// unauthenticated, so what a poster can make it hold is bounded: the last
// DefaultInboxRequests requests, each body cut to DefaultInboxBodyBytes, and
// at most DefaultInboxBytes of bodies, headers and paths in all; a newer
// request evicts the oldest.
const (
	DefaultInboxRequests  = 100
	DefaultInboxBodyBytes = 256 << 10
	DefaultInboxBytes     = 8 << 20
)

// Inbox is a webhook sink for trying Herald locally: providers in the
// example config post to /inbox/..., and GET /inbox lists the last requests
// received, so a newcomer sees exactly what a provider would receive.
type Inbox struct {
	// MaxBodyBytes is where a body is cut, with a marker that says so;
	// MaxBytes bounds what all kept requests hold together. NewInbox sets
	// the defaults; change them before the inbox serves.
	MaxBodyBytes int
	MaxBytes     int64

	mu    sync.Mutex
	ring  []InboxRequest // cap = the request bound; oldest at start
	start int
	n     int
	bytes int64 // size of the n kept requests
}

// InboxRequest is one request the inbox received.
type InboxRequest struct {
	Received time.Time         `json:"received"`
	Method   string            `json:"method"`
	Path     string            `json:"path"`
	Headers  map[string]string `json:"headers"`
	Body     string            `json:"body"`
	// Size is the length of the body received; Truncated says Body holds
	// only its start, followed by a marker.
	Size      int64 `json:"size"`
	Truncated bool  `json:"truncated,omitempty"`
}

// size is what r holds in memory, near enough to bound it: its strings.
func (r *InboxRequest) size() int64 {
	n := len(r.Method) + len(r.Path) + len(r.Body)
	for k, v := range r.Headers {
		n += len(k) + len(v)
	}
	return int64(n)
}

// NewInbox keeps the last limit requests (DefaultInboxRequests when limit
// is not positive), with the default body and total bounds.
func NewInbox(limit int) *Inbox {
	if limit <= 0 {
		limit = DefaultInboxRequests
	}
	return &Inbox{MaxBodyBytes: DefaultInboxBodyBytes, MaxBytes: DefaultInboxBytes, ring: make([]InboxRequest, limit)}
}

// Register mounts the inbox on mux.
func (in *Inbox) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /inbox/", in.receive)
	mux.HandleFunc("PUT /inbox/", in.receive)
	mux.HandleFunc("GET /inbox", in.list)
}

func (in *Inbox) receive(w http.ResponseWriter, r *http.Request) {
	keep := int64(in.MaxBodyBytes)
	if keep > in.MaxBytes {
		keep = in.MaxBytes
	}
	body, size, status, err := readHead(w, r, MaxEventBytes, keep)
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
	req := InboxRequest{Received: time.Now().UTC(), Method: r.Method, Path: r.URL.Path, Headers: headers, Size: size}
	if size > int64(len(body)) {
		req.Truncated = true
		head := cutRune(body)
		req.Body = string(head) + fmt.Sprintf("\n[herald inbox: body truncated, %d bytes received, the first %d kept]", size, len(head))
	} else {
		req.Body = string(body)
	}
	in.add(req)
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "{\"ok\":true}\n")
}

// add keeps req, evicting the oldest requests beyond the count and byte
// bounds. Its body is at most MaxBytes, so it fits once the others are gone
// (but for headers, which the server bounds).
func (in *Inbox) add(req InboxRequest) {
	sz := req.size()
	in.mu.Lock()
	defer in.mu.Unlock()
	for in.n > 0 && (in.n == len(in.ring) || in.bytes+sz > in.MaxBytes) {
		in.bytes -= in.ring[in.start].size()
		in.ring[in.start] = InboxRequest{} // let the body go
		in.start = (in.start + 1) % len(in.ring)
		in.n--
	}
	in.ring[(in.start+in.n)%len(in.ring)] = req
	in.n++
	in.bytes += sz
}

// list streams the kept requests, oldest first, one encoding at a time:
// the answer is never built whole in memory.
func (in *Inbox) list(w http.ResponseWriter, _ *http.Request) {
	in.mu.Lock()
	out := make([]InboxRequest, in.n) // shares the strings, copies no body
	for i := range out {
		out[i] = in.ring[(in.start+i)%len(in.ring)]
	}
	in.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	sep := "["
	for i := range out {
		if _, err := io.WriteString(w, sep); err != nil {
			return
		}
		if err := enc.Encode(&out[i]); err != nil {
			return
		}
		out[i] = InboxRequest{}
		sep = ","
	}
	if sep == "[" {
		_, _ = io.WriteString(w, "[")
	}
	_, _ = io.WriteString(w, "]\n")
}

// readHead reads r's body under limit (413 beyond it, as readBody) but keeps
// only its first keep bytes, and returns them with the body's whole size.
func readHead(w http.ResponseWriter, r *http.Request, limit, keep int64) (head []byte, size int64, status int, err error) {
	if r.ContentLength > limit {
		return nil, 0, http.StatusRequestEntityTooLarge, tooLarge(limit)
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	head, err = io.ReadAll(io.LimitReader(body, keep))
	if err == nil {
		var rest int64
		rest, err = io.Copy(io.Discard, body)
		size = int64(len(head)) + rest
	}
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, 0, http.StatusRequestEntityTooLarge, tooLarge(limit)
		}
		return nil, 0, http.StatusBadRequest, errors.New("reading the request body failed")
	}
	return head, size, 0, nil
}

// cutRune drops a rune that the cut at the end of b left incomplete.
func cutRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}
