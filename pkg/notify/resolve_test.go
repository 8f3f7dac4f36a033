package notify_test

import (
	"context"
	"encoding/base64"
	"errors"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

type secrets map[string]map[string][]byte

func (s secrets) lookup(namespace, name string) (map[string][]byte, error) {
	if namespace != "flux-system" {
		return nil, errors.New("wrong namespace " + namespace)
	}
	d, ok := s[name]
	if !ok {
		return nil, errors.New("not found")
	}
	return d, nil
}

func provider(spec api.ProviderSpec) api.Provider {
	if spec.Type == "" {
		spec.Type = "generic"
	}
	return api.Provider{Metadata: api.ObjectMeta{Name: "hook", Namespace: "flux-system"}, Spec: spec}
}

func ref(name string) *api.LocalObjectReference { return &api.LocalObjectReference{Name: name} }

// resolve uses a pool of its own, so tests do not share transports.
func resolve(t *testing.T, p api.Provider, s secrets) (notify.Config, error) {
	t.Helper()
	return notify.Resolver{Lookup: s.lookup, Transports: notify.NewTransportPool()}.Resolve(p)
}

func mustResolve(t *testing.T, p api.Provider, s secrets) notify.Config {
	t.Helper()
	cfg, err := resolve(t, p, s)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return cfg
}

func TestResolveSpecOnly(t *testing.T) {
	p := provider(api.ProviderSpec{Type: "slack", Address: "https://hooks.slack.com/x", Channel: "general", Username: "bot"})
	cfg := mustResolve(t, p, nil)
	if cfg.Type != "slack" || cfg.Name != "hook" || cfg.Namespace != "flux-system" ||
		cfg.Address.Reveal() != "https://hooks.slack.com/x" || cfg.Channel != "general" || cfg.Username != "bot" {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.UID != api.StableUID(api.KindProvider, p.Metadata) {
		t.Errorf("UID = %s", cfg.UID)
	}
	if cfg.Timeout != notify.DefaultTimeout || cfg.HTTPClient == nil || cfg.HTTPClient.Timeout != 0 {
		t.Errorf("Timeout = %v, client = %v", cfg.Timeout, cfg.HTTPClient)
	}

	p.Metadata.UID = "0c9c2e41-d2f9-4f9b-9c41-2d0f1f2a0b7e"
	if cfg := mustResolve(t, p, nil); cfg.UID != p.Metadata.UID {
		t.Errorf("UID = %s, want metadata.uid", cfg.UID)
	}
}

func TestResolveMainSecret(t *testing.T) {
	spec := api.ProviderSpec{Address: "https://spec.example", Username: "spec-user", SecretRef: ref("main")}
	tests := []struct {
		name                             string
		data                             map[string][]byte
		address, username, password, tok string
	}{
		{
			name:    "address overrides spec and is trimmed; token is raw",
			data:    map[string][]byte{"address": []byte("  https://secret.example/hook \n"), "token": []byte(" tok\n")},
			address: "https://secret.example/hook", username: "spec-user", tok: " tok\n",
		},
		{
			name:    "an empty address overrides too",
			data:    map[string][]byte{"address": nil},
			address: "", username: "spec-user",
		},
		{
			name:    "username and password together override spec.username",
			data:    map[string][]byte{"username": []byte("u"), "password": []byte("p"), "token": []byte("t")},
			address: "https://spec.example", username: "u", password: "p", tok: "t",
		},
		{
			name:    "username without password: token, username and password ignored",
			data:    map[string][]byte{"username": []byte("u"), "token": []byte("t")},
			address: "https://spec.example", username: "spec-user",
		},
		{
			name:    "password without username: ignored as well",
			data:    map[string][]byte{"password": []byte("p"), "token": []byte("t")},
			address: "https://spec.example", username: "spec-user",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := mustResolve(t, provider(spec), secrets{"main": tc.data})
			if cfg.Address.Reveal() != tc.address || cfg.Username != tc.username ||
				cfg.Password.Reveal() != tc.password || cfg.Token.Reveal() != tc.tok {
				t.Errorf("address=%q username=%q password=%q token=%q", cfg.Address.Reveal(), cfg.Username, cfg.Password.Reveal(), cfg.Token.Reveal())
			}
			if len(cfg.SecretData) != len(tc.data) {
				t.Errorf("SecretData has %d keys, want %d", len(cfg.SecretData), len(tc.data))
			}
		})
	}
}

func TestResolveAddressLimit(t *testing.T) {
	p := provider(api.ProviderSpec{SecretRef: ref("main")})
	ok := "https://x/" + strings.Repeat("a", 2048-len("https://x/"))
	if _, err := resolve(t, p, secrets{"main": {"address": []byte(ok)}}); err != nil {
		t.Fatalf("2048 bytes: %v", err)
	}
	_, err := resolve(t, p, secrets{"main": {"address": []byte(ok + "a")}})
	if err == nil || err.Error() != "invalid address in secret: address exceeds maximum length of 2048 bytes" {
		t.Fatalf("2049 bytes: %v", err)
	}
}

func TestResolveHeaders(t *testing.T) {
	p := provider(api.ProviderSpec{SecretRef: ref("main")})
	cfg := mustResolve(t, p, secrets{"main": {"headers": []byte("Authorization: Bearer abc\nX-Count: \"5\"\n")}})
	got := map[string]string{}
	for k, v := range cfg.Headers {
		got[k] = v.Reveal()
	}
	if want := map[string]string{"Authorization": "Bearer abc", "X-Count": "5"}; !maps.Equal(got, want) {
		t.Errorf("headers = %v, want %v", got, want)
	}

	for _, bad := range []string{"[not, a, map]", "X-List: [secret-value-1, secret-value-2]", "a: b: c"} {
		_, err := resolve(t, p, secrets{"main": {"headers": []byte(bad)}})
		if err == nil || !strings.HasPrefix(err.Error(), "failed to read headers from secret: ") {
			t.Fatalf("headers %q: err = %v", bad, err)
		}
		if strings.Contains(err.Error(), "secret-value") {
			t.Errorf("error leaks a header value: %v", err)
		}
	}
}

func TestResolveTimeout(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 15 * time.Second, "1m30s": 90 * time.Second, "500ms": 500 * time.Millisecond, "1.5m": 90 * time.Second, "30s": 30 * time.Second} {
		cfg := mustResolve(t, provider(api.ProviderSpec{Timeout: in}), nil)
		if cfg.Timeout != want {
			t.Errorf("timeout %q = %v, want %v", in, cfg.Timeout, want)
		}
	}
	for _, in := range []string{"1h", "abc", "15", "-1s", "0s"} {
		if _, err := resolve(t, provider(api.ProviderSpec{Timeout: in}), nil); err == nil || !strings.Contains(err.Error(), "invalid spec.timeout") {
			t.Errorf("timeout %q: err = %v", in, err)
		}
	}
}

func TestResolveProxySources(t *testing.T) {
	tests := []struct {
		name string
		spec api.ProviderSpec
		s    secrets
		want string
	}{
		{name: "none", spec: api.ProviderSpec{}, want: ""},
		{name: "spec.proxy", spec: api.ProviderSpec{Proxy: "http://spec:3128"}, want: "http://spec:3128"},
		{
			name: "secret proxy overrides spec.proxy",
			spec: api.ProviderSpec{Proxy: "http://spec:3128", SecretRef: ref("main")},
			s:    secrets{"main": {"proxy": []byte(" http://secret:3128\n")}},
			want: "http://secret:3128",
		},
		{
			name: "an empty secret proxy clears spec.proxy",
			spec: api.ProviderSpec{Proxy: "http://spec:3128", SecretRef: ref("main")},
			s:    secrets{"main": {"proxy": []byte("")}},
			want: "",
		},
		{
			name: "proxySecretRef overrides both, with credentials",
			spec: api.ProviderSpec{Proxy: "http://spec:3128", SecretRef: ref("main"), ProxySecretRef: ref("proxy")},
			s: secrets{
				"main":  {"proxy": []byte("http://secret:3128")},
				"proxy": {"address": []byte("https://ref:3129"), "username": []byte("u"), "password": []byte("p w")},
			},
			want: "https://u:p%20w@ref:3129",
		},
		{
			name: "proxySecretRef username only",
			spec: api.ProviderSpec{ProxySecretRef: ref("proxy")},
			s:    secrets{"proxy": {"address": []byte("socks5://ref:1080"), "username": []byte("u")}},
			want: "socks5://u@ref:1080",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustResolve(t, provider(tc.spec), tc.s).Proxy.Reveal(); got != tc.want {
				t.Errorf("proxy = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestResolveProxyErrors(t *testing.T) {
	const prefix = "failed to get proxy URL: secret 'flux-system/proxy': "
	long := "http://p/" + strings.Repeat("a", 2048)
	tests := map[string]struct {
		data map[string][]byte
		want string
	}{
		"missing address": {map[string][]byte{"username": []byte("u")}, prefix + "key 'address' not found"},
		"empty address":   {map[string][]byte{"address": nil}, prefix + "proxy address is empty"},
		"too long":        {map[string][]byte{"address": []byte(long)}, prefix + "proxy address exceeds maximum length of 2048 characters"},
		"bad scheme":      {map[string][]byte{"address": []byte("ftp://p:21")}, prefix + "proxy address scheme must be http, https or socks5"},
		"userinfo only":   {map[string][]byte{"address": []byte("user:s3cret@p:3128")}, prefix + "proxy address scheme must be http, https or socks5"},
		"no host":         {map[string][]byte{"address": []byte("http://")}, prefix + "proxy address has no host"},
		"not a URL":       {map[string][]byte{"address": []byte("http://p:3128/\x7f-s3cret")}, prefix + "failed to parse proxy address: net/url: invalid control character in URL"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := resolve(t, provider(api.ProviderSpec{ProxySecretRef: ref("proxy")}), secrets{"proxy": tc.data})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
		})
	}

	_, err := resolve(t, provider(api.ProviderSpec{SecretRef: ref("main")}), secrets{"main": {"proxy": []byte("http://p:3128/\x7f")}})
	if err == nil || err.Error() != "invalid 'proxy' in secret 'flux-system/main'" {
		t.Errorf("secret proxy: err = %v", err)
	}
}

// The client really goes through the proxy, with its credentials.
func TestResolveProxyIsUsed(t *testing.T) {
	proxy := notifytest.NewSink(t, nil)
	cfg := mustResolve(t, provider(api.ProviderSpec{ProxySecretRef: ref("proxy")}), secrets{"proxy": {
		"address": []byte(proxy.URL), "username": []byte("u"), "password": []byte("p"),
	}})
	if err := (notify.Endpoint{Address: "http://webhook.invalid/hook", Client: cfg.HTTPClient}).Send(context.Background(), http.MethodPost, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	req := proxy.Last(t)
	if req.URI != "http://webhook.invalid/hook" {
		t.Errorf("proxy saw %s", req.URI)
	}
	if got, want := req.Header.Get("Proxy-Authorization"), "Basic "+base64.StdEncoding.EncodeToString([]byte("u:p")); got != want {
		t.Errorf("Proxy-Authorization = %q, want %q", got, want)
	}
}

func TestResolveSecretLookupError(t *testing.T) {
	for _, spec := range []api.ProviderSpec{{SecretRef: ref("gone")}, {ProxySecretRef: ref("gone")}, {CertSecretRef: ref("gone")}} {
		_, err := resolve(t, provider(spec), secrets{})
		if err == nil || err.Error() != "failed to get secret 'flux-system/gone': not found" {
			t.Errorf("err = %v", err)
		}
	}
	if _, err := (notify.Resolver{}).Resolve(provider(api.ProviderSpec{SecretRef: ref("x")})); err == nil {
		t.Error("no lookup: want an error")
	}
}

// Providers with the same proxy and TLS settings share one client, and so
// one transport and its connections.
func TestResolveSharesTransports(t *testing.T) {
	pool := notify.NewTransportPool()
	r := notify.Resolver{Lookup: secrets{"a": {"address": []byte("https://a")}, "b": {"address": []byte("https://b")}}.lookup, Transports: pool}
	resolveWith := func(spec api.ProviderSpec) notify.Config {
		cfg, err := r.Resolve(provider(spec))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	a := resolveWith(api.ProviderSpec{SecretRef: ref("a")})
	b := resolveWith(api.ProviderSpec{SecretRef: ref("b"), Timeout: "5s"})
	c := resolveWith(api.ProviderSpec{Proxy: "http://proxy:3128"})
	if a.HTTPClient != b.HTTPClient {
		t.Error("equal settings got different clients")
	}
	if a.HTTPClient == c.HTTPClient {
		t.Error("different proxies share a client")
	}
	if pool.Len() != 2 {
		t.Errorf("pool holds %d transports, want 2", pool.Len())
	}
	tr := a.HTTPClient.Transport.(*http.Transport)
	if tr.MaxIdleConnsPerHost < 100 || tr.IdleConnTimeout == 0 || tr.TLSHandshakeTimeout == 0 {
		t.Errorf("transport tuning: %+v", tr)
	}
}

// Like Flux, a type whose notifier ignores certSecretRef or the proxy gets
// neither, though the secrets are still read and checked.
func TestResolveLeavesOutSettingsTheTypeIgnores(t *testing.T) {
	s := secrets{
		"ca":    {"ca.crt": []byte("not a certificate")},
		"proxy": {"address": []byte("http://proxy:3128")},
	}
	spec := api.ProviderSpec{Type: "discord", CertSecretRef: ref("ca")}
	if _, err := resolve(t, provider(spec), s); err == nil || !strings.Contains(err.Error(), "failed to parse CA certificate") {
		t.Fatalf("a bad CA on discord: err = %v, want it checked as Flux does", err)
	}
	s["ca"] = nil
	pool := notify.NewTransportPool()
	r := notify.Resolver{Lookup: s.lookup, Transports: pool}
	lark, err := r.Resolve(provider(api.ProviderSpec{Type: "lark", ProxySecretRef: ref("proxy")}))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := r.Resolve(provider(api.ProviderSpec{Type: "lark"}))
	if err != nil {
		t.Fatal(err)
	}
	if lark.HTTPClient != plain.HTTPClient || lark.Proxy != "" {
		t.Error("lark got a proxy; Flux's lark notifier has none")
	}
	slackCfg, err := r.Resolve(provider(api.ProviderSpec{Type: "slack", ProxySecretRef: ref("proxy")}))
	if err != nil {
		t.Fatal(err)
	}
	if slackCfg.HTTPClient == plain.HTTPClient || slackCfg.Proxy == "" {
		t.Error("slack lost its proxy")
	}
}
