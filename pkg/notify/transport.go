package notify

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/redirect"
)

// TransportSettings are the per-Provider knobs of the HTTP client: the proxy
// and the TLS material of spec.certSecretRef. Providers with equal settings
// share one transport, so connections to a webhook host are reused across
// providers and events.
type TransportSettings struct {
	// Proxy is the proxy URL, credentials included; nil means the
	// environment's HTTP(S)_PROXY, as Go's default transport and Flux do.
	Proxy *url.URL
	// CA is PEM; when set it replaces the system roots, as in Flux.
	CA []byte
	// Cert and Key are a PEM client certificate pair for mTLS.
	Cert, Key []byte
}

// key digests the settings, so the pool does not keep key material or proxy
// credentials as map keys and two equal settings always meet.
func (s TransportSettings) key() [sha256.Size]byte {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(s.proxyString()), s.CA, s.Cert, s.Key} {
		// Length-prefix each part so that no two different settings collide
		// by shifting bytes from one part into the next.
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

func (s TransportSettings) proxyString() string {
	if s.Proxy == nil {
		return ""
	}
	return s.Proxy.String()
}

// Tuning of the shared transports. An attempt is bounded by the caller's
// context (the Provider timeout), so the client itself has no timeout; these
// only stop one slow phase from eating the whole budget.
const (
	dialTimeout         = 10 * time.Second
	tlsHandshakeTimeout = 10 * time.Second
	idleConnTimeout     = 90 * time.Second
	// Bursts of events to one webhook host (a Slack workspace, say) should
	// reuse connections instead of opening new ones.
	maxIdleConnsPerHost = 256
	maxIdleConns        = 1024
	// maxPooledTransports bounds the pool when secrets rotate in a long-lived
	// process; the oldest transport is released first.
	maxPooledTransports = 256
)

// TransportPool hands out HTTP clients, one per distinct TransportSettings.
// It is safe for concurrent use. Build one per execution environment (or use
// DefaultTransports) and keep it: that is what makes connections reusable.
type TransportPool struct {
	mu      sync.Mutex
	clients map[[sha256.Size]byte]*http.Client
	order   [][sha256.Size]byte // insertion order, for eviction
}

// NewTransportPool returns an empty pool.
func NewTransportPool() *TransportPool {
	return &TransportPool{clients: make(map[[sha256.Size]byte]*http.Client)}
}

// DefaultTransports is the pool Resolve uses. Tests that need isolation build
// their own pool and pass it through Resolver.Transports.
var DefaultTransports = NewTransportPool()

// Client returns the shared client for s, building its transport on first
// use. The errors name what is wrong with the TLS material, never its bytes.
func (p *TransportPool) Client(s TransportSettings) (*http.Client, error) {
	k := s.key()
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[k]; ok {
		return c, nil
	}
	tr, err := newTransport(s)
	if err != nil {
		return nil, err
	}
	// No Timeout: the caller's context bounds an attempt. Redirects stay on
	// the configured host (see redirect.Check).
	c := &http.Client{Transport: tr, CheckRedirect: redirect.Check}
	if len(p.order) >= maxPooledTransports {
		oldest := p.order[0]
		p.order = p.order[1:]
		if old, ok := p.clients[oldest]; ok {
			// Notifiers still holding it keep working; it just stops being shared.
			old.CloseIdleConnections()
			delete(p.clients, oldest)
		}
	}
	p.clients[k] = c
	p.order = append(p.order, k)
	return c, nil
}

// Len reports how many distinct transports the pool holds.
func (p *TransportPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}

func newTransport(s TransportSettings) (*http.Transport, error) {
	tlsConfig, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	proxy := http.ProxyFromEnvironment
	if s.Proxy != nil {
		proxy = http.ProxyURL(s.Proxy)
	}
	dialer := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 proxy,
		DialContext:           dialer.DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   tlsHandshakeTimeout,
		IdleConnTimeout:       idleConnTimeout,
		MaxIdleConns:          maxIdleConns,
		MaxIdleConnsPerHost:   maxIdleConnsPerHost,
		ExpectContinueTimeout: time.Second,
		// A custom TLS config or dialer turns HTTP/2 off unless asked for.
		ForceAttemptHTTP2: true,
	}, nil
}

// tlsConfig builds the client TLS config, or nil for Go's defaults. The
// texts follow Flux's runtime/secrets.
func (s TransportSettings) tlsConfig() (*tls.Config, error) {
	hasCert, hasKey := len(s.Cert) > 0, len(s.Key) > 0
	if hasCert != hasKey {
		if hasCert {
			return nil, errors.New("found certificate but missing private key")
		}
		return nil, errors.New("found private key but missing certificate")
	}
	if len(s.CA) == 0 && !hasCert {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if hasCert {
		pair, err := tls.X509KeyPair(s.Cert, s.Key)
		if err != nil {
			// crypto/tls errors describe the PEM structure, never key bytes.
			return nil, fmt.Errorf("failed to parse TLS certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	if len(s.CA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.CA) {
			return nil, errors.New("failed to parse CA certificate")
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
