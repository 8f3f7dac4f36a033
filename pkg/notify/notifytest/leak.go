package notifytest

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// The values AssertNoSecretLeak plants in a Provider and its secrets. Each is
// distinctive, so finding one in an error can only mean a leak.
const (
	LeakPathToken  = "s3cr3t-path-9f8e7d6c5b4a39281706"
	LeakQueryToken = "s3cr3t-query-1a2b3c4d5e6f7a8b9c0d"
	LeakUserinfo   = "s3cr3t-userinfo-pw"
	LeakToken      = "s3cr3t-token-0f1e2d3c4b5a69788796"
	LeakUsername   = "leak-user"
	LeakPassword   = "s3cr3t-password-42"
	LeakHeader     = "s3cr3t-header-5a4b3c2d1e0f9a8b7c6d"
	LeakAPIKey     = "s3cr3t-apikey-77aa88bb99cc00dd11ee"
	LeakProxyUser  = "proxy-user"
	LeakProxyPass  = "s3cr3t-proxy-pw"
)

// leakedValues are the strings that must not appear, including the base64
// forms that basic auth puts into echoed Authorization headers.
func leakedValues() []string {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	return []string{
		LeakPathToken, LeakQueryToken, LeakUserinfo, LeakToken, LeakPassword,
		LeakHeader, LeakAPIKey, LeakProxyPass,
		b64(LeakUsername + ":" + LeakPassword),
		b64(LeakUsername + ":" + LeakUserinfo),
		b64(LeakProxyUser + ":" + LeakProxyPass),
	}
}

// LeakAddress is a webhook address carrying secrets in its userinfo, path
// and query, on the server base (scheme://host:port).
func LeakAddress(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		panic(err)
	}
	u.User = url.UserPassword(LeakUsername, LeakUserinfo)
	return u.String() + "/hook/" + LeakPathToken + "?token=" + LeakQueryToken
}

// AssertNoSecretLeak builds notifiers with newNotifier from a Provider whose
// secrets are planted everywhere (address userinfo, path and query, token,
// password, header values, proxy credentials), resolved by notify.Resolver
// as in production. It makes them fail in every way a request can: a 500 and
// a 400 whose bodies echo the whole request, a refused connection, a proxy
// that echoes its request (Proxy-Authorization included), a refused proxy,
// a redirect to another host, and an address that does not parse. The
// redirect must not be followed: the other host receives nothing, and the
// failure is permanent. No planted value may appear in an
// error, in anything the error wraps, or in any log line. configure, if
// given, adjusts each config (a channel, say) before newNotifier runs.
func AssertNoSecretLeak[N notify.Notifier](t *testing.T, newNotifier func(notify.Config) (N, error), configure ...func(*notify.Config)) {
	t.Helper()
	factory := notify.FactoryOf(newNotifier)
	ev := ReferenceEvent(event.SeverityError, true)

	var logs bytes.Buffer
	prev := slog.Default()
	// slog.SetDefault also routes the log package into this handler.
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		assertClean(t, "logs", logs.String())
	})

	build := func(t *testing.T, address, proxy string) (notify.Notifier, error) {
		t.Helper()
		cfg := resolveLeaky(t, address, proxy)
		for _, f := range configure {
			f(&cfg)
		}
		return factory(cfg)
	}

	fail := func(t *testing.T, address, proxy string, wantRequest *Sink) {
		t.Helper()
		n, err := build(t, address, proxy)
		if err != nil {
			t.Fatalf("factory: %v", err)
		}
		_, err = n.Notify(context.Background(), ev)
		if err == nil {
			t.Fatal("Notify succeeded against a failing server")
		}
		if wantRequest != nil && len(wantRequest.Requests()) == 0 {
			t.Fatal("the request never reached the server, so nothing was tested")
		}
		assertErrorClean(t, err)
	}

	t.Run("500 echoing the request", func(t *testing.T) {
		sink := NewSink(t, Echo(500))
		fail(t, LeakAddress(sink.URL), "", sink)
	})
	t.Run("400 echoing the request", func(t *testing.T) {
		sink := NewSink(t, Echo(400))
		fail(t, LeakAddress(sink.URL), "", sink)
	})
	t.Run("connection refused", func(t *testing.T) {
		fail(t, LeakAddress(ClosedAddress(t)), "", nil)
	})
	t.Run("proxy echoing the request", func(t *testing.T) {
		proxy := NewSink(t, Echo(407))
		// The target is never dialled: the proxy answers for it.
		fail(t, LeakAddress("http://webhook.invalid"), proxy.URL, proxy)
	})
	t.Run("proxy refused", func(t *testing.T) {
		fail(t, LeakAddress("http://webhook.invalid"), ClosedAddress(t), nil)
	})
	t.Run("redirect to another host", func(t *testing.T) {
		// Another port of the same address is another host: a redirect
		// there is not followed, so the planted headers, body, URL (as a
		// Referer) and credentials never reach it.
		other := NewSink(t, nil)
		first := NewSink(t, Redirect(http.StatusTemporaryRedirect, other.URL))
		n, err := build(t, LeakAddress(first.URL), "")
		if err != nil {
			t.Fatalf("factory: %v", err)
		}
		retry, err := n.Notify(context.Background(), ev)
		if len(first.Requests()) == 0 {
			t.Fatal("the request never reached the server, so nothing was tested")
		}
		for _, r := range other.Requests() {
			t.Errorf("the other host received %s %s", r.Method, strings.Join(slices.Sorted(maps.Keys(r.Header)), ", "))
		}
		if err == nil {
			t.Fatal("Notify succeeded against an endpoint that redirects to another host")
		}
		if retry {
			t.Errorf("retry = true for a redirect to another host: %v", err)
		}
		assertErrorClean(t, err)
	})
	t.Run("address that does not parse", func(t *testing.T) {
		for _, address := range []string{
			"http://127.0.0.1:" + LeakPathToken + "/hook",
			"http://host/%" + LeakPathToken,
			LeakPathToken + " not a URL",
		} {
			n, err := build(t, address, "")
			if err == nil {
				// Providers that ignore the address build fine; then the
				// attempt must not leak it either.
				_, err = n.Notify(context.Background(), ev)
			}
			if err != nil {
				assertErrorClean(t, err)
			}
		}
	})
}

// resolveLeaky resolves a Provider whose main secret and proxy secret hold
// the planted values, with a transport pool of its own.
func resolveLeaky(t *testing.T, address, proxy string) notify.Config {
	t.Helper()
	secrets := map[string]map[string][]byte{
		"main": {
			"address":  []byte(address),
			"token":    []byte(LeakToken),
			"username": []byte(LeakUsername),
			"password": []byte(LeakPassword),
			"headers":  []byte("Authorization: Bearer " + LeakHeader + "\nX-Api-Key: " + LeakAPIKey + "\n"),
		},
	}
	p := api.Provider{
		Metadata: api.ObjectMeta{Name: "leaky", Namespace: "flux-system"},
		Spec:     api.ProviderSpec{Type: "leaktest", SecretRef: &api.LocalObjectReference{Name: "main"}},
	}
	if proxy != "" {
		secrets["proxy"] = map[string][]byte{
			"address":  []byte(proxy),
			"username": []byte(LeakProxyUser),
			"password": []byte(LeakProxyPass),
		}
		p.Spec.ProxySecretRef = &api.LocalObjectReference{Name: "proxy"}
	}
	r := notify.Resolver{
		Lookup: func(_, name string) (map[string][]byte, error) {
			if d, ok := secrets[name]; ok {
				return d, nil
			}
			return nil, errors.New("not found")
		},
		Transports: notify.NewTransportPool(),
	}
	cfg, err := r.Resolve(p)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	return cfg
}

// assertErrorClean checks err's text in every format and every error it
// wraps, since a caller may log any of them.
func assertErrorClean(t *testing.T, err error) {
	t.Helper()
	t.Logf("error: %v", err)
	for e := err; e != nil; e = errors.Unwrap(e) {
		assertClean(t, "error text", e.Error())
		assertClean(t, "error %+v", fmt.Sprintf("%+v", e))
		assertClean(t, "error %#v", fmt.Sprintf("%#v", e))
	}
}

func assertClean(t *testing.T, what, text string) {
	t.Helper()
	for _, v := range leakedValues() {
		if strings.Contains(text, v) {
			t.Errorf("%s leaks %q: %s", what, v, text)
		}
	}
}
