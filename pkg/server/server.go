// Package server holds the net/http handlers that the Lambda functions and
// `herald serve` share.
package server

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/net/netutil"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
)

// Handlers are the handlers a process serves; nil ones are left out.
type Handlers struct {
	Ingest *Ingest
	// Hooks is a *Hooks. Held as a handler so that a binary that serves no
	// webhooks (the dispatch Lambda) does not link the verifiers and their
	// OIDC, CEL and schema libraries.
	Hooks http.Handler
	Poll  *Poll
	Inbox *Inbox
	// Config answers readiness; nil leaves /readyz out.
	Config config.Source
}

// Routes mounts the handlers (and metricsHandler on /metrics when given): health and metrics, webhooks on /hook/, the
// forwarder's poll, the inbox, and event ingest on every other path and
// method, as Flux's event server accepts events on any path.
func Routes(h Handlers, metricsHandler http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if h.Config != nil {
		mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
			snap := h.Config.Snapshot()
			if snap == nil {
				writeError(w, http.StatusServiceUnavailable, "config not loaded")
				return
			}
			body := map[string]any{"status": "ready", "objects": snap.Counts}
			// Ready on the last good config; the detail says when the
			// folder holds a config that failed to load.
			if r, ok := h.Config.(config.Reloading); ok {
				if st, ok := r.LastReload(); ok {
					body["lastReload"] = st
				}
			}
			writeJSON(w, http.StatusOK, body)
		})
	}
	if metricsHandler != nil {
		mux.Handle("GET /metrics", metricsHandler)
	}
	if h.Hooks != nil {
		mux.Handle(receiver.HookPrefix, h.Hooks)
	}
	if h.Poll != nil {
		mux.Handle("GET /reconcile-requests", h.Poll)
	}
	if h.Inbox != nil {
		h.Inbox.Register(mux)
	}
	if h.Ingest != nil {
		mux.Handle("/", h.Ingest)
	} else {
		mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
			writeError(w, http.StatusNotFound, "not found")
		})
	}
	return mux
}

// Limits bound what clients can hold of a server: how long one response
// may take to be written, and how many connections may be open at once.
type Limits struct {
	// WriteTimeout runs from the end of a request's headers to the end of
	// its response: a client that reads its answer slowly, or never, is cut
	// off then. It covers the body's reading too, so it must exceed
	// ReadTimeout (30 s). Zero means none.
	WriteTimeout time.Duration
	// MaxConnections bounds the connections open at once, idle keep-alive
	// ones included; a connection beyond it waits in the listen backlog
	// until one closes. Zero means no bound.
	MaxConnections int
}

// The limits herald serve starts with. No handler streams or long-polls:
// a minute is twice the longest a request may take to be read.
const (
	DefaultWriteTimeout   = time.Minute
	DefaultMaxConnections = 1024
)

// DefaultLimits are herald serve's defaults.
func DefaultLimits() Limits {
	return Limits{WriteTimeout: DefaultWriteTimeout, MaxConnections: DefaultMaxConnections}
}

// NewHTTPServer applies the limits of Flux's event server (a 10 s
// ReadHeaderTimeout cuts slowloris connections) and lim's WriteTimeout.
func NewHTTPServer(addr string, h http.Handler, lim Limits) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      lim.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    256 << 10,
	}
}

// Listener applies lim's MaxConnections to ln: Accept waits while that
// many connections are open.
func (lim Limits) Listener(ln net.Listener) net.Listener {
	if lim.MaxConnections <= 0 {
		return ln
	}
	return netutil.LimitListener(ln, lim.MaxConnections)
}

// errorBody is every error response: {"error": "..."}.
type errorBody struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
