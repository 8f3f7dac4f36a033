package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/config/folder"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/metrics/prom"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
	"github.com/heraldhq/herald/pkg/notify/registry"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/receiver/cdevents"
	"github.com/heraldhq/herald/pkg/server"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/boltdb"
	"github.com/heraldhq/herald/pkg/store/memory"
	"github.com/heraldhq/herald/pkg/tlsreload"
)

type serveFlags struct {
	config            string
	addr              string
	rateLimitInterval time.Duration
	maxDeliveryAge    time.Duration
	stateDir          string
	shutdownTimeout   time.Duration
	retryScale        float64
	workers           int
	clusterTokens     string
	logLevel          string
	inbox             bool
	limits            server.Limits
	tlsCertFile       string
	tlsKeyFile        string
}

func runServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f serveFlags
	fs.StringVar(&f.config, "config", envOr("HERALD_CONFIG", "examples/local"), "folder of Flux YAML to serve (env HERALD_CONFIG)")
	fs.StringVar(&f.addr, "addr", envOr("HERALD_ADDR", "127.0.0.1:9292"), "address to listen on (env HERALD_ADDR)")
	fs.DurationVar(&f.rateLimitInterval, "rate-limit-interval", 5*time.Minute, "window in which an identical event is refused as a duplicate")
	fs.DurationVar(&f.maxDeliveryAge, "max-delivery-age", delivery.DefaultMaxAge, "how long a failed delivery is retried before it is dead-lettered")
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "folder of the durable state: pending deliveries, dead letters, de-duplication, reconcile requests; '' keeps it in memory (env HERALD_STATE_DIR)")
	fs.IntVar(&f.workers, "workers", 64, "concurrent deliveries")
	fs.Float64Var(&f.retryScale, "retry-scale", 1, "multiplies every retry delay; for tests that play a long outage in seconds")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 20*time.Second, "on SIGTERM, how long in-flight requests and delivery attempts may finish before they are cut off (their deliveries stay pending in --state-dir)")
	fs.StringVar(&f.clusterTokens, "cluster-tokens", os.Getenv("HERALD_CLUSTER_TOKENS"), "YAML file mapping cluster names to forwarder tokens; turns authentication on (env HERALD_CLUSTER_TOKENS)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&f.limits.WriteTimeout, "write-timeout", server.DefaultWriteTimeout, "how long one response may take, from the end of the request's headers; a client that reads slower is cut off")
	fs.IntVar(&f.limits.MaxConnections, "max-connections", server.DefaultMaxConnections, "connections open at once, idle ones included; more wait until one closes")
	fs.BoolVar(&f.inbox, "inbox", false, "serve a webhook sink on /inbox/ (POST) listing the last requests it received on GET /inbox, for trying Herald locally; needs a loopback --addr")
	fs.StringVar(&f.tlsCertFile, "tls-cert-file", os.Getenv("HERALD_TLS_CERT_FILE"), "PEM certificate (chain) to serve HTTPS with, reloaded when the file changes; needs --tls-key-file (env HERALD_TLS_CERT_FILE)")
	fs.StringVar(&f.tlsKeyFile, "tls-key-file", os.Getenv("HERALD_TLS_KEY_FILE"), "PEM private key of --tls-cert-file (env HERALD_TLS_KEY_FILE)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "herald serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if f.rateLimitInterval <= 0 || f.maxDeliveryAge <= 0 || f.workers <= 0 || f.shutdownTimeout <= 0 || f.retryScale <= 0 ||
		f.limits.WriteTimeout <= 0 || f.limits.MaxConnections <= 0 {
		fmt.Fprintln(stderr, "herald serve: --rate-limit-interval, --max-delivery-age, --workers, --shutdown-timeout, --retry-scale, --write-timeout and --max-connections must be positive")
		return 2
	}
	if (f.tlsCertFile == "") != (f.tlsKeyFile == "") {
		fmt.Fprintln(stderr, "herald serve: --tls-cert-file and --tls-key-file go together")
		return 2
	}
	if f.inbox && !loopbackHost(f.addr) {
		fmt.Fprintln(stderr, inboxNotLoopback(f.addr))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		fmt.Fprintf(stderr, "herald serve: --log-level: %v\n", err)
		return 2
	}
	logs := newLogWriter(stderr, 100*time.Millisecond)
	defer logs.Close()
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, f, logger); err != nil {
		logger.Error("herald serve failed", "error", err.Error())
		return 1
	}
	return 0
}

// serve runs herald serve until ctx is cancelled (SIGINT or SIGTERM).
func serve(ctx context.Context, f serveFlags, logger *slog.Logger) error {
	// The certificate is loaded before anything else, so that a wrong path
	// stops herald serve at once.
	var certs *tlsreload.Reloader
	if f.tlsCertFile != "" {
		var err error
		certs, err = tlsreload.New(f.tlsCertFile, f.tlsKeyFile, tlsreload.WithErrorHandler(func(err error) {
			logger.Error("the TLS certificate files changed but do not load; serving the previous certificate", "error", err.Error())
		}))
		if err != nil {
			return err
		}
	}

	// Notifiers outlive config reloads, so connections are reused.
	owned := notifiers.New(registry.New)
	defer owned.Close()
	source, err := folder.Open(f.config, configLoader(logger), owned, logger)
	if err != nil {
		return fmt.Errorf("loading %s: %w", f.config, err)
	}
	m := prom.New()
	source.OnReload = func(st config.ReloadStatus) {
		result := "ok"
		if st.Error != "" {
			result = "failed"
		}
		m.ConfigReloads.WithLabelValues(result).Inc()
	}
	go func() {
		if err := source.Watch(ctx); err != nil {
			logger.Error("config watch stopped; reload with SIGHUP or a restart", "error", err.Error())
		}
	}()
	// Registered for the life of the process, never stopped: SIGHUP must
	// reload, and never end herald serve, even once the watcher has
	// stopped or while a shutdown drains.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			if ctx.Err() != nil {
				logger.Info("SIGHUP ignored: shutting down")
				continue
			}
			source.Refresh("SIGHUP")
		}
	}()

	state, err := openState(f, logger)
	if err != nil {
		return err
	}
	defer state.close()
	deliverer := &delivery.Deliverer{
		// Jobs resolve their Provider in the config current when they are tried.
		Targets:    config.Targets(source),
		MaxAge:     f.maxDeliveryAge,
		RetryScale: f.retryScale,
		Metrics:    m,
		Logger:     logger,
		// Git statuses and comments set by a newer event are kept.
		Order: state.order,
	}
	queue := delivery.NewMemoryQueue(deliverer, f.workers, 8192)
	queue.Journal = state.journal
	if resumed, err := queue.Resume(ctx); err != nil {
		return err
	} else if resumed > 0 {
		logger.Info("resumed pending deliveries", "deliveries", resumed, "state_dir", f.stateDir)
	}
	if f.stateDir != "" {
		adminCtx, stopAdmin := context.WithCancel(ctx)
		adminDone, err := serveAdmin(adminCtx, f.stateDir, queueAdmin{queue: queue}, logger)
		if err != nil {
			// Deliveries work without it (a unix socket path is at most
			// 108 bytes, say); only herald deliveries and replay cannot
			// reach this process.
			logger.Warn("no admin socket: herald deliveries and herald replay cannot reach this process", "error", err.Error())
			stopAdmin()
		} else {
			defer adminDone()
			defer stopAdmin() // before adminDone waits
		}
	}

	ingest := &server.Ingest{
		Config:  source,
		Dedup:   state.dedup,
		Queue:   queue,
		Metrics: m,
		Logger:  logger,
	}
	if f.clusterTokens != "" {
		tokens, err := readClusterTokens(f.clusterTokens)
		if err != nil {
			return err
		}
		ingest.Auth = &server.Authenticator{Tokens: server.StaticTokens(tokens)}
	}

	verifier, err := receiver.VerifierFromEnv()
	if err != nil {
		return err
	}
	verifier.CDEvents = cdevents.Validate
	if verifier.GoogleJWKSURL != "" {
		logger.Warn("gcr Receivers trust the keys at "+receiver.GoogleJWKSURLEnv+" instead of Google's", "url", verifier.GoogleJWKSURL)
	}

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	// The name in --addr was checked; this is the address it resolved to.
	if f.inbox && !isLoopback(ln.Addr()) {
		ln.Close()
		return errors.New(inboxNotLoopback(ln.Addr().String()))
	}
	if ingest.Auth == nil && !isLoopback(ln.Addr()) {
		logger.Warn("serving without authentication on a non-loopback address; pass --cluster-tokens", "addr", ln.Addr().String())
	}
	var inbox *server.Inbox
	if f.inbox {
		inbox = server.NewInbox(server.DefaultInboxRequests)
	}
	requests := state.requests
	handlers := server.Handlers{
		Ingest: ingest,
		Hooks:  &server.Hooks{Lookup: server.SnapshotReceivers(source), Verifier: verifier, Requests: requests, Logger: logger},
		Poll:   &server.Poll{Auth: ingest.Auth, Replays: state.replays, Requests: requests, Logger: logger},
		Inbox:  inbox,
		Config: source,
	}
	srv := server.NewHTTPServer(f.addr, server.Routes(handlers, m.Handler()), f.limits)
	errc := make(chan error, 1)
	if certs != nil {
		srv.TLSConfig = certs.TLSConfig()
		go func() { errc <- srv.ServeTLS(f.limits.Listener(ln), "", "") }()
	} else {
		go func() { errc <- srv.Serve(f.limits.Listener(ln)) }()
	}
	logger.Info("herald serving", "addr", ln.Addr().String(), "config", f.config, "auth", ingest.Auth != nil, "tls", certs != nil)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down: finishing accepted deliveries")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), f.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Error("http shutdown", "error", err.Error())
	}
	return queue.Close(shutdownCtx)
}

// localState is herald serve's state: in a bbolt file in --state-dir, or
// in memory with --state-dir ”.
type localState struct {
	dedup store.Deduper
	// replays is the replay guard of signed polls; the dedup claims of
	// signed events record their signatures in it too.
	replays  store.Replays
	requests store.ReconcileRequests
	order    store.StatusOrder
	journal  store.DeliveryJournal // nil in memory
	close    func()
}

// Reconcile requests wait an hour for the forwarder; the order of Git
// statuses is kept for 30 days, as in AWS.
const (
	reconcileTTL = time.Hour
	orderTTL     = 30 * 24 * time.Hour
)

func openState(f serveFlags, logger *slog.Logger) (localState, error) {
	if f.stateDir == "" {
		dedup := memory.NewDeduper(f.rateLimitInterval)
		return localState{
			dedup:    dedup,
			replays:  dedup,
			requests: memory.NewReconcileRequests(reconcileTTL),
			order:    memory.NewStatusOrder(orderTTL),
			close:    func() {},
		}, nil
	}
	path := filepath.Join(f.stateDir, stateFile)
	st, err := boltdb.Open(path, boltdb.Options{
		DedupInterval: f.rateLimitInterval, ReconcileTTL: reconcileTTL, OrderTTL: orderTTL, Logger: logger,
	})
	if errors.Is(err, boltdb.ErrLocked) {
		return localState{}, fmt.Errorf("--state-dir %s is in use by another herald serve; give this one another --state-dir, or --state-dir '' to keep its state in memory", f.stateDir)
	}
	if err != nil {
		return localState{}, fmt.Errorf("--state-dir: %w", err)
	}
	return localState{
		dedup:    st.Deduper(),
		replays:  st.Deduper(),
		requests: st,
		order:    st.StatusOrder(),
		journal:  st,
		close: func() {
			if err := st.Close(); err != nil {
				logger.Error("closing the state file", "error", err.Error())
			}
		},
	}, nil
}

// configLoader reads and validates a folder: any error keeps it from
// loading, and each warning is logged on every load, as validate prints it.
func configLoader(logger *slog.Logger) folder.Loader {
	return func(dir string) (*api.Config, error) {
		cfg, err := api.LoadPaths(dir)
		if err != nil {
			return nil, err
		}
		res := api.Validate(cfg, api.ValidateOptions{})
		checkReceiverCEL(cfg, &res)
		if len(res.Errors) > 0 {
			return nil, errors.Join(res.Errors...)
		}
		for _, w := range res.Warnings {
			logger.Warn("config warning", "warning", w.Error())
		}
		return cfg, nil
	}
}

func readClusterTokens(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--cluster-tokens: %w", err)
	}
	var tokens map[string]string
	if err := yaml.Unmarshal(data, &tokens); err != nil {
		return nil, fmt.Errorf("--cluster-tokens %s: want a YAML map of cluster name to token", path)
	}
	if err := checkClusterTokens(tokens); err != nil {
		return nil, fmt.Errorf("--cluster-tokens %s: %w", path, err)
	}
	return tokens, nil
}

// inboxNotLoopback is why herald serve refuses --inbox on addr: the inbox
// answers anyone who connects, without authentication, and lists every
// request it kept with its headers, so it is for this machine alone.
func inboxNotLoopback(addr string) string {
	return fmt.Sprintf("herald serve: --inbox listens on loopback only, and --addr %s is not a loopback address: "+
		"the inbox is unauthenticated and shows what providers were sent; use --addr 127.0.0.1:PORT, [::1]:PORT or localhost:PORT", addr)
}

// loopbackHost reports whether the host of addr is a loopback IP or
// localhost; an address that does not parse is left to net.Listen.
func loopbackHost(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkClusterTokens says what in a tokens file cannot authenticate a
// cluster: a name that is not a DNS label, or an empty token. Names are
// checked in order, so that the error is the same on every run.
func checkClusterTokens(tokens map[string]string) error {
	for _, name := range slices.Sorted(maps.Keys(tokens)) {
		if err := clusterauth.CheckClusterName(name); err != nil {
			return fmt.Errorf("cluster %q: %v", name, err)
		}
		// An empty key would let anyone sign requests.
		if tokens[name] == "" {
			return fmt.Errorf("cluster %q has an empty token", name)
		}
	}
	return nil
}

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
