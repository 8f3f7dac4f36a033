package notify_test

import (
	"context"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

func post(cfg notify.Config, address string) error {
	return notify.Endpoint{Address: address, Client: cfg.HTTPClient}.Send(context.Background(), http.MethodPost, []byte("{}"))
}

func TestResolveCustomCA(t *testing.T) {
	sink := notifytest.NewTLSSink(t, nil)
	caPEM := pemOf(sink.Certificate().Raw)
	certs := api.ProviderSpec{CertSecretRef: ref("certs")}

	for _, key := range []string{"ca.crt", "caFile"} {
		cfg := mustResolve(t, provider(certs), secrets{"certs": {key: caPEM}})
		if err := post(cfg, sink.URL); err != nil {
			t.Errorf("%s: %v", key, err)
		}
	}

	// Without the CA, the server is not trusted, and no retry can change that.
	err := post(mustResolve(t, provider(api.ProviderSpec{}), nil), sink.URL)
	if err == nil || notify.IsRetryable(err) || err.Error() != "POST request failed: TLS handshake failed: certificate signed by unknown authority" {
		t.Errorf("untrusted: err = %v, retryable %v", err, notify.IsRetryable(err))
	}

	// The CA replaces the system roots instead of adding to them.
	other := newCert(t, "other CA", nil)
	cfg := mustResolve(t, provider(certs), secrets{"certs": {"ca.crt": other.CertPEM}})
	if err := post(cfg, sink.URL); err == nil {
		t.Error("a server outside the configured CA was trusted")
	}
	want := x509.NewCertPool()
	want.AddCert(other.Cert)
	if roots := cfg.HTTPClient.Transport.(*http.Transport).TLSClientConfig.RootCAs; !roots.Equal(want) {
		t.Error("the root pool is not exactly the configured CA")
	}
}

func TestResolveMutualTLS(t *testing.T) {
	serverCA, clientCA := newCert(t, "server CA", nil), newCert(t, "client CA", nil)
	srv := mTLSServer(t, serverCA, clientCA)
	client := newCert(t, "herald", &clientCA)

	for name, data := range map[string]map[string][]byte{
		"standard keys": {"ca.crt": serverCA.CertPEM, "tls.crt": client.CertPEM, "tls.key": client.KeyPEM},
		"legacy keys":   {"caFile": serverCA.CertPEM, "certFile": client.CertPEM, "keyFile": client.KeyPEM},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := mustResolve(t, provider(api.ProviderSpec{CertSecretRef: ref("certs")}), secrets{"certs": data})
			if err := post(cfg, srv.URL); err != nil {
				t.Fatal(err)
			}
		})
	}

	t.Run("no client certificate", func(t *testing.T) {
		cfg := mustResolve(t, provider(api.ProviderSpec{CertSecretRef: ref("certs")}), secrets{"certs": {"ca.crt": serverCA.CertPEM}})
		err := post(cfg, srv.URL)
		if err == nil || notify.IsRetryable(err) {
			t.Fatalf("err = %v, want a permanent error", err)
		}
	})
}

func TestResolveTLSErrors(t *testing.T) {
	pair := newCert(t, "c", nil)
	const prefix = "failed to get TLS config: secret 'flux-system/certs'"
	tests := map[string]struct {
		data map[string][]byte
		want string
	}{
		"lone cert":       {map[string][]byte{"tls.crt": pair.CertPEM}, prefix + " contains 'tls.crt' but missing 'tls.key'"},
		"lone key":        {map[string][]byte{"ca.crt": pair.CertPEM, "tls.key": pair.KeyPEM}, prefix + " contains 'tls.key' but missing 'tls.crt'"},
		"legacy lone key": {map[string][]byte{"keyFile": pair.KeyPEM}, prefix + " contains 'tls.key' but missing 'tls.crt'"},
		"nothing":         {map[string][]byte{"other": []byte("x")}, prefix + " must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'"},
		"bad CA":          {map[string][]byte{"ca.crt": []byte("not PEM")}, prefix + ": failed to parse CA certificate"},
		"mismatched pair": {map[string][]byte{"tls.crt": pair.CertPEM, "tls.key": newCert(t, "d", nil).KeyPEM}, prefix + ": failed to parse TLS certificate and key: tls: private key does not match public key"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := resolve(t, provider(api.ProviderSpec{CertSecretRef: ref("certs")}), secrets{"certs": tc.data})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Error("error carries key material")
			}
		})
	}
}

// Git commit-status types fall back to the main secret's ca.crt when they
// have no certSecretRef; other types ignore TLS keys there.
func TestResolveCommitStatusTLSFallback(t *testing.T) {
	sink := notifytest.NewTLSSink(t, nil)
	data := secrets{"main": {"token": []byte("t"), "ca.crt": pemOf(sink.Certificate().Raw)}}
	for typ, trusted := range map[string]bool{"github": true, "gitea": true, "slack": false, "generic": false} {
		cfg := mustResolve(t, provider(api.ProviderSpec{Type: typ, SecretRef: ref("main")}), data)
		if err := post(cfg, sink.URL); (err == nil) != trusted {
			t.Errorf("%s: err = %v, want trusted %v", typ, err, trusted)
		}
	}
	// An incomplete pair in the main secret is ignored, as Flux does.
	lone := secrets{"main": {"token": []byte("t"), "tls.crt": pemOf(sink.Certificate().Raw)}}
	if _, err := resolve(t, provider(api.ProviderSpec{Type: "github", SecretRef: ref("main")}), lone); err != nil {
		t.Errorf("lone cert in the main secret: %v", err)
	}
}

func TestTransportPoolEquality(t *testing.T) {
	pool := notify.NewTransportPool()
	ca := newCert(t, "ca", nil)
	a, err := pool.Client(notify.TransportSettings{CA: ca.CertPEM})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pool.Client(notify.TransportSettings{CA: append([]byte(nil), ca.CertPEM...)})
	c, _ := pool.Client(notify.TransportSettings{Cert: ca.CertPEM, Key: ca.KeyPEM})
	if a != b || a == c || pool.Len() != 2 {
		t.Errorf("a==b %v, a==c %v, len %d", a == b, a == c, pool.Len())
	}
	if _, err := pool.Client(notify.TransportSettings{Cert: ca.CertPEM}); err == nil ||
		err.Error() != "found certificate but missing private key" {
		t.Errorf("lone cert: %v", err)
	}
}
