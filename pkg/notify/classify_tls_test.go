package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify"
)

// Every TLS handshake or certificate failure is the Provider's address, CA
// or certificate being wrong: permanent, and said as such. Each row is a
// real local server and the client Resolve would build for it.
func TestClassifyTLSFailures(t *testing.T) {
	ca := newCert(t, "test CA", nil)
	trusting := func(t *testing.T) *http.Client {
		c, err := notify.NewTransportPool().Client(notify.TransportSettings{CA: ca.CertPEM})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// serve starts a TLS server with cfg.
	serve := func(t *testing.T, cfg *tls.Config) string {
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		if cfg != nil {
			srv.TLS = cfg
		}
		srv.Config.ErrorLog = log.New(io.Discard, "", 0)
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv.URL
	}
	leafCfg := func(t *testing.T, mod func(*x509.Certificate)) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{leafFrom(t, ca, mod)}}
	}

	tests := []struct {
		name   string
		url    func(t *testing.T) string
		client func(t *testing.T) *http.Client
		want   string // a regexp of the whole error
		retry  bool
	}{
		{
			name: "unknown authority",
			url: func(t *testing.T) string {
				return serve(t, nil) // httptest's own certificate
			},
			client: func(*testing.T) *http.Client { return nil },
			want:   `^POST request failed: TLS handshake failed: certificate signed by unknown authority$`,
		},
		{
			name: "hostname mismatch",
			url: func(t *testing.T) string {
				return serve(t, leafCfg(t, func(c *x509.Certificate) { c.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 2)} }))
			},
			client: trusting,
			want:   `^POST request failed: TLS handshake failed: certificate is valid for 127\.0\.0\.2, not 127\.0\.0\.1$`,
		},
		{
			name: "expired",
			url: func(t *testing.T) string {
				return serve(t, leafCfg(t, func(c *x509.Certificate) {
					c.NotBefore, c.NotAfter = time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour)
				}))
			},
			client: trusting,
			want:   `^POST request failed: TLS handshake failed: certificate has expired or is not yet valid: current time \S+ is after \S+$`,
		},
		{
			name: "plain HTTP server addressed with https",
			url: func(t *testing.T) string {
				s := httptest.NewServer(http.NotFoundHandler())
				t.Cleanup(s.Close)
				return "https://" + s.Listener.Addr().String()
			},
			client: func(*testing.T) *http.Client { return nil },
			want:   `^POST request failed: TLS handshake failed: server gave HTTP response to HTTPS client$`,
		},
		{
			name:   "a port that speaks another protocol",
			url:    func(t *testing.T) string { return "https://" + banner(t, "SSH-2.0-OpenSSH_9.6\r\n") },
			client: func(*testing.T) *http.Client { return nil },
			want:   `^POST request failed: TLS handshake failed: the server does not speak TLS on this port \(first record does not look like a TLS handshake\)$`,
		},
		{
			name: "the server refuses the handshake: no client certificate",
			url: func(t *testing.T) string {
				cfg := leafCfg(t, nil)
				cfg.ClientAuth = tls.RequireAnyClientCert
				return serve(t, cfg)
			},
			client: trusting,
			want:   `^POST request failed: TLS handshake failed: remote error: tls: (certificate required|bad certificate|handshake failure)$`,
		},
		{
			name: "the server refuses the handshake: protocol version",
			url: func(t *testing.T) string {
				cfg := leafCfg(t, nil)
				cfg.MinVersion, cfg.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
				return serve(t, cfg)
			},
			client: trusting,
			want:   `^POST request failed: TLS handshake failed: remote error: tls: protocol version not supported$`,
		},
		{
			// Not a configuration error: the next attempt may get through.
			name:   "the connection closes during the handshake",
			url:    func(t *testing.T) string { return "https://" + banner(t, "") },
			client: func(*testing.T) *http.Client { return nil },
			want:   `^POST request failed: (EOF|.*connection reset by peer)$`,
			retry:  true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ep := notify.Endpoint{Address: tc.url(t) + "/hook/s3cr3t-tls-path", Client: tc.client(t)}
			err := ep.PostJSON(context.Background(), map[string]string{"text": "hi"})
			if err == nil {
				t.Fatal("the request succeeded")
			}
			if !regexp.MustCompile(tc.want).MatchString(err.Error()) {
				t.Errorf("err = %q, want %s", err, tc.want)
			}
			if notify.IsRetryable(err) != tc.retry {
				t.Errorf("retryable = %v, want %v", notify.IsRetryable(err), tc.retry)
			}
		})
	}
}

// banner listens on a local port that writes text to each connection and
// closes it, as a server of another protocol would.
func banner(t *testing.T, text string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = io.WriteString(c, text)
			_ = c.Close()
		}
	}()
	return l.Addr().String()
}

// leafFrom issues a server certificate for 127.0.0.1 from ca, valid now,
// which mod may change first.
func leafFrom(t *testing.T, ca certPair, mod func(*x509.Certificate)) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "leaf"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if mod != nil {
		mod(tmpl)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.X509KeyPair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}
