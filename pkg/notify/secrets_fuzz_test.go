package notify_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
)

// Secrets seeded into fuzzed secret data: no error may quote any 4 bytes
// of them. None of their 4-byte windows reads like a word of a message.
const (
	fuzzSecret   = "Zx7Qv9Wk3Jp2"
	fuzzPassword = "Kd4Rn8Tb6Wm1"
)

// quoted returns a 4-byte window of one of secrets found in text.
func quoted(text string, secrets ...string) (string, bool) {
	for _, s := range secrets {
		for i := 0; i+4 <= len(s); i++ {
			if w := s[i : i+4]; strings.Contains(text, w) {
				return w, true
			}
		}
	}
	return "", false
}

// lineBreaks are the characters that end a YAML line.
const lineBreaks = "\r\n\u0085\u2028\u2029"

// checkMasked fails if masking with cfg's secret values leaves v, a value
// of cfg, readable in an error that quotes it.
func checkMasked(t *testing.T, what, v string, cfg notify.Config) {
	t.Helper()
	v = strings.TrimSpace(v)
	if v == "" || strings.Contains(v, "*") || notify.IsAuthScheme(v) {
		return // nothing to mask, the mask itself could spell it, or a bare scheme
	}
	if got := notify.Mask("error: <"+v+">", cfg.SecretValues()...); strings.Contains(got, v) {
		t.Fatalf("the %s survives masking: %q", what, got)
	}
}

// FuzzSecretHeaders resolves a Provider whose secret's headers YAML holds
// a token on one line of a fuzzed document, however the text around it is
// mangled. The error never quotes the token; on success every header
// value is among the values masked out of errors.
func FuzzSecretHeaders(f *testing.F) {
	f.Add("Authorization: Bearer abc", "Bearer ", "")
	f.Add(`X-Count: "5"`, `"`, `"`)
	f.Add("[not, a, map]", "", "")
	f.Add("a: b: c", "'", "'")
	f.Add("X-List: [secret-value-1, secret-value-2]", "[", "]")
	f.Add("", "!!int ", "")
	f.Add("", "{", ": 1}")
	f.Add("&a x: y", "", "")
	spec := api.ProviderSpec{SecretRef: ref("main")}
	f.Fuzz(func(t *testing.T, doc, pre, post string) {
		if strings.ContainsAny(pre+post, lineBreaks) {
			return // the token would leave its line, and could become a key
		}
		if _, ok := quoted(doc+pre+post, fuzzSecret); ok {
			return // the fuzzer wrote part of the token elsewhere
		}
		headers := doc + "\nX-Api-Key: " + pre + fuzzSecret + post + "\n"
		cfg, err := resolve(t, provider(spec), secrets{"main": {"headers": []byte(headers)}})
		if err != nil {
			if w, ok := quoted(err.Error(), fuzzSecret); ok {
				t.Fatalf("the error quotes %q of a header value: %v", w, err)
			}
			return
		}
		for k, v := range cfg.Headers {
			checkMasked(t, "header "+k, v.Reveal(), cfg)
		}
	})
}

// FuzzSecretProxy resolves a proxy address from a proxySecretRef (with
// credentials) or from the main secret's deprecated proxy key, with a
// token placed anywhere in it. Errors quote neither the address nor the
// password; on success the proxy's password is masked out of errors.
func FuzzSecretProxy(f *testing.F) {
	f.Add("http://u:", "@proxy:3128", "u", true, true)
	f.Add("https://", ".example:3129/path", "", false, true)
	f.Add("socks5://ref:1080/", "", "u", true, false)
	f.Add("http://p:3128/\x7f", "", "", false, false)
	f.Add("ftp://", ":21", "", false, true)
	f.Add("user:", "@p:3128", "", false, true)
	f.Add("http://proxy:", "", "", false, false)
	f.Add("http://[", "]:1", "", false, false)
	f.Add(" ", " ", "", false, false)
	f.Fuzz(func(t *testing.T, pre, post, username string, withPassword, viaRef bool) {
		if _, ok := quoted(pre+post+username, fuzzSecret, fuzzPassword); ok {
			return
		}
		address := pre + fuzzSecret + post
		spec := api.ProviderSpec{Type: "generic", SecretRef: ref("main")}
		data := secrets{"main": {"proxy": []byte(address)}}
		if viaRef {
			spec = api.ProviderSpec{Type: "generic", ProxySecretRef: ref("proxy")}
			data = secrets{"proxy": {"address": []byte(address), "username": []byte(username)}}
			if withPassword {
				data["proxy"]["password"] = []byte(fuzzPassword)
			}
		}
		cfg, err := resolve(t, provider(spec), data)
		if err != nil {
			if w, ok := quoted(err.Error(), fuzzSecret, fuzzPassword); ok {
				t.Fatalf("the error quotes %q of the proxy: %v", w, err)
			}
			return
		}
		if cfg.Proxy == "" {
			if viaRef || strings.TrimSpace(address) != "" {
				t.Fatalf("proxy %q from %v was dropped", address, data)
			}
			return
		}
		u, err := url.Parse(cfg.Proxy.Reveal())
		if err != nil {
			t.Fatalf("the resolved proxy does not parse: %v", err)
		}
		checkMasked(t, "proxy address", cfg.Proxy.Reveal(), cfg)
		if u.User != nil {
			if p, ok := u.User.Password(); ok {
				checkMasked(t, "proxy password", p, cfg)
			}
			checkMasked(t, "proxy userinfo", u.User.String(), cfg)
		}
		if viaRef && withPassword {
			if p, _ := u.User.Password(); p != fuzzPassword {
				t.Fatalf("proxy %s lost the password", cfg.Proxy.Reveal())
			}
		}
		tr, ok := cfg.HTTPClient.Transport.(*http.Transport)
		if !ok || tr.Proxy == nil {
			t.Fatal("the client has no proxy")
		}
		req, _ := http.NewRequest(http.MethodPost, "https://hooks.example/x", nil)
		if got, err := tr.Proxy(req); err != nil || got == nil || got.String() != cfg.Proxy.Reveal() {
			t.Fatalf("the client proxies through %v, %v; want %s", got, err, cfg.Proxy.Reveal())
		}
	})
}

// fuzzCert is a self-signed certificate and its key, in PEM.
func fuzzCert(f *testing.F) (certPEM, keyPEM []byte) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fuzz"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

// FuzzSecretTLS resolves a certSecretRef whose ca.crt and tls.crt are
// fuzzed and whose tls.key holds a real key inside fuzzed bytes. No error
// quotes the key; on success the client carries the client certificate
// and exactly the CA that were given.
func FuzzSecretTLS(f *testing.F) {
	certPEM, keyPEM := fuzzCert(f)
	f.Add(certPEM, certPEM, []byte(nil), []byte(nil), false)
	f.Add(certPEM, []byte(nil), []byte(nil), []byte(nil), true)
	f.Add([]byte(nil), certPEM, []byte("junk"), []byte(nil), false)
	f.Add([]byte("not a certificate"), []byte(nil), []byte(nil), []byte(nil), false)
	f.Add(certPEM, certPEM[:len(certPEM)/2], []byte(nil), []byte("-----END PRIVATE KEY-----\n"), false)
	f.Add([]byte(nil), keyPEM, []byte(nil), []byte(nil), true)
	// The key's base64 lines, which no error may quote.
	body := strings.Join(strings.Split(strings.TrimSpace(string(keyPEM)), "\n")[1:2], "")
	f.Fuzz(func(t *testing.T, ca, cert, keyPre, keyPost []byte, legacy bool) {
		if _, ok := quoted(string(ca)+string(cert)+string(keyPre)+string(keyPost), body); ok {
			return
		}
		key := append(append(append([]byte{}, keyPre...), keyPEM...), keyPost...)
		names := [3]string{"ca.crt", "tls.crt", "tls.key"}
		if legacy {
			names = [3]string{"caFile", "certFile", "keyFile"}
		}
		data := map[string][]byte{names[2]: key}
		if len(ca) > 0 {
			data[names[0]] = ca
		}
		if len(cert) > 0 {
			data[names[1]] = cert
		}
		cfg, err := resolve(t, provider(api.ProviderSpec{Type: "generic", CertSecretRef: ref("certs")}), secrets{"certs": data})
		if err != nil {
			if w, ok := quoted(err.Error(), body); ok {
				t.Fatalf("the error quotes %q of the private key: %v", w, err)
			}
			return
		}
		tls := cfg.HTTPClient.Transport.(*http.Transport).TLSClientConfig
		if tls == nil || len(cert) > 0 && len(tls.Certificates) != 1 || len(cert) == 0 && len(tls.Certificates) != 0 {
			t.Fatalf("TLS config %+v for %d bytes of certificate", tls, len(cert))
		}
		if (len(ca) > 0) != (tls.RootCAs != nil) {
			t.Fatalf("root CAs %v for %d bytes of CA", tls.RootCAs, len(ca))
		}
	})
}
