package agent

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Config is the forwarder's command line. Every flag can also be set by the
// environment variable FORWARDER_<FLAG>, upper case with underscores
// (FORWARDER_HERALD_URL for --herald-url); a flag given wins.
type Config struct {
	Addr           string
	HeraldURL      *url.URL
	Cluster        string
	TokenFile      string
	BufferDir      string
	BufferMaxBytes int64
	NoKube         bool
	WatchEvents    bool
	Kubeconfig     string
	PollInterval   time.Duration
	RetryMaxDelay  time.Duration
	SendWorkers    int
	ShutdownGrace  time.Duration
	LogLevel       string
	// WriteTimeout and MaxConnections bound what clients of --addr can
	// hold; zero means no bound.
	WriteTimeout   time.Duration
	MaxConnections int
	// TLSCertFile and TLSKeyFile, when set, make --addr serve HTTPS with
	// that pair, reloaded when the files change.
	TLSCertFile string
	TLSKeyFile  string
}

// ErrHelp is returned by ParseFlags after printing the usage for -h.
var ErrHelp = flag.ErrHelp

// ParseFlags reads the command line and the environment.
func ParseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("forwarder", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c Config
	var heraldURL string
	fs.StringVar(&c.Addr, "addr", ":9090", "address Flux controllers post events to (their --events-addr); also serves /healthz, /readyz and /metrics")
	fs.StringVar(&heraldURL, "herald-url", "", "Herald's base URL, e.g. https://abc123.execute-api.eu-west-1.amazonaws.com/ (required)")
	fs.StringVar(&c.Cluster, "cluster", "", "this cluster's name as registered with `herald cluster add` (required)")
	fs.StringVar(&c.TokenFile, "token-file", "", "file holding the cluster's token, mounted from a Secret (required)")
	fs.StringVar(&c.BufferDir, "buffer-dir", "/var/lib/herald-forwarder", "folder of the durable event buffer and the reconcile cursor")
	fs.Int64Var(&c.BufferMaxBytes, "buffer-max-bytes", 256<<20, "size of the event buffer; when full, the oldest events are dropped")
	fs.BoolVar(&c.NoKube, "no-kube", false, "run the relay alone, without an API server: no labels, no event watch, no reconcile requests")
	fs.BoolVar(&c.WatchEvents, "watch-events", false, "also turn Kubernetes Events of Flux objects into Flux events, for controllers whose --events-addr cannot be changed")
	fs.StringVar(&c.Kubeconfig, "kubeconfig", "", "kubeconfig file; empty means the in-cluster service account, or $KUBECONFIG")
	fs.DurationVar(&c.PollInterval, "poll-interval", 5*time.Second, "how often to poll Herald for reconcile requests")
	fs.DurationVar(&c.RetryMaxDelay, "retry-max-delay", 30*time.Second, "longest back-off between two tries of an event while Herald is unreachable")
	fs.IntVar(&c.SendWorkers, "send-workers", 8, "concurrent sends to Herald; events of one object are always sent one after another, in order")
	fs.DurationVar(&c.ShutdownGrace, "shutdown-grace", 10*time.Second, "time given to in-flight sends on SIGTERM")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&c.WriteTimeout, "write-timeout", time.Minute, "how long one response may take, from the end of the request's headers; a client that reads slower is cut off")
	fs.IntVar(&c.MaxConnections, "max-connections", 256, "connections open at once on --addr, idle ones included; more wait until one closes")
	fs.StringVar(&c.TLSCertFile, "tls-cert-file", "", "PEM certificate (chain) for --addr to serve HTTPS with, reloaded when the file changes; needs --tls-key-file")
	fs.StringVar(&c.TLSKeyFile, "tls-key-file", "", "PEM private key of --tls-cert-file")
	if err := applyEnv(fs); err != nil {
		return Config{}, err
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.Kubeconfig == "" {
		c.Kubeconfig = os.Getenv("KUBECONFIG")
	}
	var missing []string
	for name, v := range map[string]string{"--herald-url": heraldURL, "--cluster": c.Cluster, "--token-file": c.TokenFile, "--buffer-dir": c.BufferDir} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return Config{}, fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	u, err := url.Parse(heraldURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Config{}, errors.New("--herald-url must be an http or https URL")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return Config{}, errors.New("--herald-url must not have a query or fragment")
	}
	c.HeraldURL = u
	if !isDNSLabel(c.Cluster) {
		return Config{}, fmt.Errorf("--cluster %q must be a DNS label: lower-case letters, digits and '-', at most 63", c.Cluster)
	}
	if c.BufferMaxBytes < 1<<20 {
		return Config{}, errors.New("--buffer-max-bytes must be at least 1 MiB")
	}
	if c.PollInterval <= 0 || c.RetryMaxDelay <= 0 || c.SendWorkers <= 0 || c.ShutdownGrace < 0 {
		return Config{}, errors.New("--poll-interval, --retry-max-delay and --send-workers must be positive")
	}
	if c.WriteTimeout <= 0 || c.MaxConnections <= 0 {
		return Config{}, errors.New("--write-timeout and --max-connections must be positive")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return Config{}, errors.New("--tls-cert-file and --tls-key-file go together")
	}
	return c, nil
}

// applyEnv sets each flag from FORWARDER_<NAME> before the command line is
// parsed, so that flags override the environment.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "FORWARDER_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		v, ok := os.LookupEnv(name)
		if !ok || err != nil {
			return
		}
		if serr := fs.Set(f.Name, v); serr != nil {
			err = fmt.Errorf("%s: %v", name, serr)
		}
	})
	return err
}

// isDNSLabel reports whether s is an RFC 1123 label, the form of a cluster
// name everywhere in Herald.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
