// Package tlsreload serves a TLS certificate from a pair of PEM files and
// picks up a replaced pair without a restart, as cert-manager and mounted
// Secrets replace them.
package tlsreload

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// CheckInterval is how often, at most, the files are looked at again: the
// first handshake after it has passed stats both files, and reloads them
// when either changed.
const CheckInterval = time.Second

// Reloader holds the certificate of CertFile and KeyFile for
// tls.Config.GetCertificate. Build it with New.
type Reloader struct {
	certFile, keyFile string
	// now is the clock; tests set it through WithClock.
	now func() time.Time
	// onError is told about a pair that could not be loaded; the previous
	// certificate stays in use.
	onError func(error)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked time.Time
}

// fileStamp is what tells a changed file: its modification time and size.
type fileStamp struct {
	mod  time.Time
	size int64
}

// Option configures a Reloader.
type Option func(*Reloader)

// WithClock sets the clock used to space checks; the default is time.Now.
func WithClock(now func() time.Time) Option {
	return func(r *Reloader) { r.now = now }
}

// WithErrorHandler sets a function called when a changed pair cannot be
// loaded (say, the certificate is new and the key not yet). The previous
// certificate is served until a later check loads the pair.
func WithErrorHandler(f func(error)) Option {
	return func(r *Reloader) { r.onError = f }
}

// New loads the pair once, so that a wrong path or a mismatched key is an
// error at start-up rather than at the first handshake.
func New(certFile, keyFile string, opts ...Option) (*Reloader, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("a TLS certificate file and a key file are both required")
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, now: time.Now, onError: func(error) {}}
	for _, o := range opts {
		o(r)
	}
	stamp, err := r.stat()
	if err != nil {
		return nil, err
	}
	if err := r.load(stamp); err != nil {
		return nil, err
	}
	r.checked = r.now()
	return r, nil
}

// TLSConfig is a server configuration that serves the reloaded certificate,
// TLS 1.2 and later.
func (r *Reloader) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// GetCertificate implements tls.Config.GetCertificate. A handshake costs a
// mutex and a clock read; at most once per CheckInterval, two stat calls.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= CheckInterval || now.Before(r.checked) {
		r.checked = now
		stamp, err := r.stat()
		if err == nil && stamp != r.stamp {
			err = r.load(stamp)
		}
		if err != nil {
			r.onError(err)
		}
	}
	return r.cert, nil
}

func (r *Reloader) stat() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, name := range [...]string{r.certFile, r.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return out, fmt.Errorf("TLS file: %w", err)
		}
		out[i] = fileStamp{mod: fi.ModTime(), size: fi.Size()}
	}
	return out, nil
}

// load reads the pair and, if it is valid, serves it from now on. The
// stamp is recorded only then, so that a half-replaced pair is tried again
// at the next check.
func (r *Reloader) load(stamp [2]fileStamp) error {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		// The error names the files' paths, never their contents.
		return fmt.Errorf("loading the TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert = &cert
	r.stamp = stamp
	return nil
}
