// Package agent wires the forwarder's parts together and runs them: the
// relay and the ops endpoints on one listener, the buffer, the sender, and,
// with an API server, the label cache, the Event watch and the reconcile
// poller.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/net/netutil"

	"github.com/heraldhq/herald/cmd/forwarder/internal/buffer"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/metrics"
	"github.com/heraldhq/herald/cmd/forwarder/internal/reconcile"
	"github.com/heraldhq/herald/cmd/forwarder/internal/relay"
	"github.com/heraldhq/herald/cmd/forwarder/internal/sender"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/tlsreload"
)

// Run serves until ctx is cancelled, then shuts down in order: stop taking
// events, flush in-flight sends, close the buffer.
func Run(ctx context.Context, cfg Config, logOut io.Writer) error {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(logOut, &slog.HandlerOptions{Level: level}))

	tokens := &sender.TokenFile{Path: cfg.TokenFile}
	if _, err := tokens.Token(); err != nil {
		return err
	}
	var certs *tlsreload.Reloader
	if cfg.TLSCertFile != "" {
		var err error
		certs, err = tlsreload.New(cfg.TLSCertFile, cfg.TLSKeyFile, tlsreload.WithErrorHandler(func(err error) {
			logger.Error("the TLS certificate files changed but do not load; serving the previous certificate", "error", err.Error())
		}))
		if err != nil {
			return err
		}
	}
	// The metrics exist before the buffer: opening a buffer larger than
	// --buffer-max-bytes (the bound was lowered) drops its oldest records
	// and counts them. The gauges read the buffer only when scraped, once
	// Run serves.
	var buf *buffer.Buffer
	m := metrics.New(func() (int, int64, time.Time) {
		s := buf.Stats()
		return s.Events, s.Bytes, s.Oldest
	})
	buf, err := buffer.Open(filepath.Join(cfg.BufferDir, "events"), buffer.Options{
		MaxBytes: cfg.BufferMaxBytes,
		OnDrop: func(r buffer.Record) {
			m.Dropped(metrics.DropBufferFull)
			logger.Warn("event dropped: the buffer is full", "received_at", r.ReceivedAt.UTC().Format(time.RFC3339Nano))
		},
		OnCorrupt: func(index uint64, err error) {
			m.Dropped(metrics.DropCorrupt)
			logger.Error("event dropped: its buffered record cannot be read", "index", index, "error", err.Error())
		},
	})
	if err != nil {
		return err
	}
	if s := buf.Stats(); s.Events > 0 {
		logger.Info("resending buffered events", "events", s.Events, "bytes", s.Bytes)
	}

	client := &http.Client{
		Timeout: 15 * time.Second,
		Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout: 5 * time.Second,
			MaxIdleConnsPerHost: cfg.SendWorkers + 2,
			IdleConnTimeout:     90 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		// A signed request is bound to its target; following a redirect
		// would send it somewhere it was not signed for.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	rl := &relay.Relay{Buffer: buf, Metrics: m, Logger: logger}
	var kc *kube.Client
	if cfg.NoKube {
		logger.Info("running the relay alone (--no-kube): no labels, no event watch, no reconcile requests")
	} else {
		if kc, err = kube.NewClient(cfg.Kubeconfig); err != nil {
			buf.Close()
			return err
		}
		rl.Labels = &kube.LabelCache{Client: kc, TTL: 30 * time.Second, Missing: 5 * time.Second, Max: 10000}
		if cfg.WatchEvents {
			rl.Recent = &relay.Recent{Window: 2 * time.Minute, Max: 100000}
		}
	}

	snd := &sender.Sender{
		Buffer: buf, URL: cfg.HeraldURL, Cluster: cfg.Cluster, Token: tokens.Token, Client: client,
		Workers: cfg.SendWorkers, RetryMaxDelay: cfg.RetryMaxDelay, Grace: cfg.ShutdownGrace,
		Metrics: m, Logger: logger,
	}
	ready := &readiness{kube: kc}
	srv := newServer(cfg, routes(rl, m, ready))
	ln, err := listen(cfg)
	if err != nil {
		buf.Close()
		return err
	}
	logger.Info("forwarder listening", "addr", ln.Addr().String(), "tls", certs != nil, "herald", cfg.HeraldURL.Redacted(), "cluster", cfg.Cluster)

	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	goRun := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(bg) }()
	}
	if kc != nil {
		poller := &reconcile.Poller{
			URL: cfg.HeraldURL.JoinPath("reconcile-requests"), Cluster: cfg.Cluster, Token: tokens.Token,
			Client: client, Kube: kc, Interval: cfg.PollInterval,
			CursorFile: filepath.Join(cfg.BufferDir, "reconcile-cursor"), Metrics: m, Logger: logger,
		}
		goRun(poller.Run)
		if cfg.WatchEvents {
			w := &kube.EventWatch{Client: kc, Logger: logger, Submit: func(ctx context.Context, ev *event.Event) error {
				return rl.Submit(ctx, ev, nil, "watch")
			}}
			goRun(w.Run)
		}
	}
	senderDone := make(chan struct{})
	go func() { snd.Run(bg); close(senderDone) }()

	serveErr := make(chan error, 1)
	if certs != nil {
		srv.TLSConfig = certs.TLSConfig()
		go func() { serveErr <- srv.ServeTLS(ln, "", "") }()
	} else {
		go func() { serveErr <- srv.Serve(ln) }()
	}
	select {
	case <-ctx.Done():
		logger.Info("shutting down")
	case err = <-serveErr:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_ = srv.Shutdown(sctx)
	cancel()
	stopBG()
	wg.Wait()
	<-senderDone
	if cerr := buf.Close(); cerr != nil {
		logger.Error("closing the buffer failed", "error", cerr.Error())
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// newServer applies the limits of Flux's event server (a 10 s
// ReadHeaderTimeout cuts slowloris connections) and --write-timeout, which
// cuts off a client that does not read its answer.
func newServer(cfg Config, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              cfg.Addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    256 << 10,
	}
}

// listen listens on --addr with at most --max-connections open at once: one
// more waits in the listen backlog until another closes.
func listen(cfg Config) (net.Listener, error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil || cfg.MaxConnections <= 0 {
		return ln, err
	}
	return netutil.LimitListener(ln, cfg.MaxConnections), nil
}

// routes serves the ops endpoints on GET and the relay on every other path
// and method, as Flux's event server takes events on any.
func routes(rl *relay.Relay, m *metrics.Metrics, ready *readiness) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := ready.check(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.Handle("GET /metrics", m.Handler())
	mux.Handle("/", rl)
	return mux
}

// readiness is the buffer being open (it is, once Run serves) and the API
// server answering, checked at most every few seconds.
type readiness struct {
	kube *kube.Client

	mu      sync.Mutex
	checked time.Time
	err     error
}

func (r *readiness) check(ctx context.Context) error {
	if r.kube == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.checked) < 5*time.Second {
		return r.err
	}
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	r.err = nil
	if err := r.kube.Reachable(cctx); err != nil {
		r.err = errors.New("the Kubernetes API server is not reachable")
	}
	r.checked = time.Now()
	return r.err
}

func writeJSON(w http.ResponseWriter, status int, v map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	_, _ = w.Write(append(b, '\n'))
}
