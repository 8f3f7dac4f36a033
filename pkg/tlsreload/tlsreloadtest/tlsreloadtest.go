// Package tlsreloadtest makes a certificate authority and server
// certificates for 127.0.0.1 and localhost, for tests of TLS servers.
package tlsreloadtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"testing"
	"time"
)

// CA is a self-signed certificate authority.
type CA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// Pool trusts the CA alone.
	Pool *x509.CertPool
}

// NewCA makes a CA valid for an hour either side of now.
func NewCA(t testing.TB) *CA {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "herald test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &CA{cert: cert, key: key, Pool: pool}
}

// WriteServerCert writes a server certificate for 127.0.0.1, ::1 and
// localhost with the given serial number, signed by the CA, and its key, to
// certFile and keyFile (PEM), replacing them whole.
func (ca *CA) WriteServerCert(t testing.TB, certFile, keyFile string, serial int64) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	writeAtomic(t, keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
}

// WriteCert writes the CA's certificate (PEM) to name, for a client that
// reads its trust from a file.
func (ca *CA) WriteCert(t testing.TB, name string) {
	t.Helper()
	writeAtomic(t, name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}))
}

// Client is an HTTP client that trusts the CA only and opens a new
// connection for every request, so that each one sees the server's current
// certificate.
func (ca *CA) Client() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12},
			DisableKeepAlives: true,
		},
	}
}

// ServedSerial is the serial number of the certificate resp came with.
func ServedSerial(t testing.TB, resp *http.Response) int64 {
	t.Helper()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		t.Fatal("the response did not come over TLS")
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64()
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// writeAtomic replaces name through a rename, as a Secret volume's update
// does, and moves its modification time on by a second, so that the change
// shows even on a file system with coarse timestamps.
func writeAtomic(t testing.TB, name string, data []byte) {
	t.Helper()
	var next time.Time
	if fi, err := os.Stat(name); err == nil {
		next = fi.ModTime().Add(time.Second)
	}
	tmp := name + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if !next.IsZero() {
		if err := os.Chtimes(tmp, next, next); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(tmp, name); err != nil {
		t.Fatal(err)
	}
}
