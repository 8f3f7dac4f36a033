package receiver

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver/receivertest"
)

// ciProvider trusts a CI issuer's tokens for one repository's main branch:
// a variable that a validation uses, and a validation on a claim.
func ciProvider(issuerURL, audience string) api.OIDCProvider {
	return api.OIDCProvider{
		IssuerURL: issuerURL,
		Audience:  audience,
		Variables: []api.OIDCVariable{{Name: "repo", Expression: "claims.repository"}},
		Validations: []api.OIDCValidates{
			{Expression: "vars.repo == 'org/app'", Message: "wrong repository"},
			{Expression: "claims.ref == 'refs/heads/main'", Message: "not the main branch"},
		},
	}
}

func oidcReceiver(providers ...api.OIDCProvider) *api.Receiver {
	return &api.Receiver{
		Metadata: api.ObjectMeta{Name: "ci", Namespace: "flux-system"},
		Spec: api.ReceiverSpec{
			Type:          "generic-oidc",
			OIDCProviders: providers,
			Resources:     []api.ReceiverResource{{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "podinfo"}}},
		},
	}
}

// ciClaims are a CI job's token claims that ciProvider accepts.
func ciClaims(iss *receivertest.Issuer, audience string) map[string]any {
	c := iss.Claims("repo:org/app:ref:refs/heads/main", audience)
	c["repository"] = "org/app"
	c["ref"] = "refs/heads/main"
	return c
}

func with(claims map[string]any, kv ...any) map[string]any {
	out := make(map[string]any, len(claims))
	for k, v := range claims {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
			continue
		}
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// refused checks that err is a 400 saying msg, quoting none of secrets.
func refused(t *testing.T, err error, msg string, secrets ...string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || !strings.Contains(err.Error(), msg) {
		t.Fatalf("Verify() = %v, want a 400 saying %q", err, msg)
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(err.Error(), s) {
			t.Fatalf("the error quotes a secret: %v", err)
		}
	}
}

func TestGenericOIDC(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	other := receivertest.NewIssuer(t) // trusted by no Receiver
	stranger := receivertest.NewKey(t) // signs for iss, but iss does not publish it
	rcv := oidcReceiver(ciProvider("https://unused.example.com", ""), ciProvider(iss.URL, ""))
	good := ciClaims(iss, DefaultOIDCAudience)
	tokenWithPayload := func(payload string) string {
		return "eyJhbGciOiJSUzI1NiJ9." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".c2ln"
	}
	tests := []struct {
		name   string
		header http.Header
		msg    string // "": accepted
	}{
		{name: "valid token, default audience", header: bearer(iss.Sign(t, good))},
		{name: "expired", header: bearer(iss.Sign(t, with(good, "exp", time.Now().Add(-time.Minute).Unix()))),
			msg: "failed to verify OIDC token: oidc: token is expired"},
		{name: "wrong audience", header: bearer(iss.Sign(t, with(good, "aud", "someone-else"))),
			msg: `failed to verify OIDC token: oidc: expected audience "notification-controller"`},
		{name: "issuer not among the oidcProviders", header: bearer(other.Sign(t, with(good, "iss", other.URL))),
			msg: `no oidcProvider configured for issuer "` + other.URL + `"`},
		{name: "listed issuer, signed by a key it does not publish", header: bearer(stranger.Sign(t, good)),
			msg: "failed to verify OIDC token: failed to verify signature"},
		{name: "listed issuer, signed by another issuer's key", header: bearer(other.Sign(t, good)),
			msg: "failed to verify OIDC token: failed to verify signature"},
		{name: "one validation fails", header: bearer(iss.Sign(t, with(good, "ref", "refs/heads/dev"))),
			msg: "token validation failed: not the main branch"},
		{name: "failed validations are joined", header: bearer(iss.Sign(t, with(good, "ref", "refs/tags/v1", "repository", "org/other"))),
			msg: "token validation failed: wrong repository; not the main branch"},
		{name: "a claim the variable reads is missing", header: bearer(iss.Sign(t, with(good, "repository", nil))),
			msg: `failed to evaluate variable "repo"`},
		{name: "no Authorization header", header: http.Header{}, msg: "the Authorization header is missing or malformed"},
		{name: "not a bearer", header: http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, msg: "the Authorization header is missing or malformed"},
		{name: "bearer without token", header: http.Header{"Authorization": {"Bearer   "}}, msg: "the Authorization header is missing a bearer token"},
		{name: "not a JWT", header: bearer("opaque-access-token"), msg: "failed to parse bearer token: token is not a JWT"},
		{name: "payload not base64url", header: bearer("a.b*c.d"), msg: "failed to parse bearer token: failed to decode token payload"},
		{name: "payload not JSON", header: bearer(tokenWithPayload("[1,2]")), msg: "failed to parse bearer token: failed to parse token payload"},
		{name: "payload without iss", header: bearer(tokenWithPayload(`{"sub":"x"}`)), msg: "token is missing the 'iss' claim"},
		{name: "forged signature", header: bearer(tokenWithPayload(`{"iss":"` + iss.URL + `"}`)), msg: "failed to verify OIDC token"},
	}
	v := new(Verifier)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := v.Verify(context.Background(), rcv, nil, &Request{Header: tc.header, Body: []byte(`{"ref":"main"}`)})
			token, _ := strings.CutPrefix(tc.header.Get("Authorization"), "Bearer ")
			if tc.msg != "" {
				refused(t, err, tc.msg, strings.TrimSpace(token))
				return
			}
			if err != nil {
				t.Fatalf("Verify() = %v, want accepted", err)
			}
			if string(res.Body) != `{"ref":"main"}` {
				t.Errorf("Result.Body = %s, want the request body", res.Body)
			}
			if res.Claims["sub"] != "repo:org/app:ref:refs/heads/main" || res.Claims["repository"] != "org/app" || res.Claims["iss"] != iss.URL ||
				res.Claims["exp"] != float64(good["exp"].(int64)) {
				t.Errorf("Result.Claims = %v, want the token's claims", res.Claims)
			}
		})
	}
	// Every call above that reached the issuer shared one discovery.
	if n := iss.Discoveries(); n != 1 {
		t.Errorf("%d discoveries, want 1: the issuer is cached", n)
	}
}

func TestGenericOIDCAudience(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	rcv := oidcReceiver(ciProvider(iss.URL, "https://herald.example.com"))
	v := new(Verifier)
	token := iss.Sign(t, ciClaims(iss, "https://herald.example.com"))
	if _, err := v.Verify(context.Background(), rcv, nil, &Request{Header: bearer(token)}); err != nil {
		t.Fatalf("token for the configured audience: %v", err)
	}
	// The default audience is no longer accepted once another is set.
	token = iss.Sign(t, ciClaims(iss, DefaultOIDCAudience))
	_, err := v.Verify(context.Background(), rcv, nil, &Request{Header: bearer(token)})
	refused(t, err, `expected audience "https://herald.example.com"`, token)
	// A list of audiences that holds it is accepted.
	token = iss.Sign(t, with(ciClaims(iss, ""), "aud", []string{"a", "https://herald.example.com"}))
	if _, err := v.Verify(context.Background(), rcv, nil, &Request{Header: bearer(token)}); err != nil {
		t.Fatalf("token with the audience in a list: %v", err)
	}
}

// TestGenericOIDCKeyRotation: the issuer replaces its key. A token with the
// new kid verifies without a new Verifier, after one key set fetch, and a
// token from the retired key then fails.
func TestGenericOIDCKeyRotation(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	rcv := oidcReceiver(ciProvider(iss.URL, ""))
	v := new(Verifier)
	verify := func(token string) error {
		_, err := v.Verify(context.Background(), rcv, nil, &Request{Header: bearer(token)})
		return err
	}
	if err := verify(iss.Sign(t, ciClaims(iss, DefaultOIDCAudience))); err != nil {
		t.Fatalf("before the rotation: %v", err)
	}
	if err := verify(iss.Sign(t, ciClaims(iss, DefaultOIDCAudience))); err != nil {
		t.Fatalf("second token before the rotation: %v", err)
	}
	before := iss.KeyFetches()
	old := iss.Rotate(t)
	if err := verify(iss.Sign(t, ciClaims(iss, DefaultOIDCAudience))); err != nil {
		t.Fatalf("token from the new key: %v", err)
	}
	if iss.KeyFetches() == before {
		t.Fatal("the new kid did not make the key set refresh")
	}
	// go-oidc hands the fetched keys to the waiting call a moment before it
	// stores them in its cache, so the retired key may verify once more in
	// that moment; it must be refused soon after.
	token := old.Sign(t, ciClaims(iss, DefaultOIDCAudience))
	err := verify(token)
	for deadline := time.Now().Add(10 * time.Second); err == nil && time.Now().Before(deadline); err = verify(token) {
		time.Sleep(10 * time.Millisecond)
	}
	refused(t, err, "failed to verify signature", token)
	if n := iss.Discoveries(); n != 1 {
		t.Errorf("%d discoveries, want 1", n)
	}
}

// TestGenericOIDCSpecChange: the compiled CEL is cached per spec content,
// so an edited validation applies at once, on the same Verifier.
func TestGenericOIDCSpecChange(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	v := new(Verifier)
	token := iss.Sign(t, ciClaims(iss, DefaultOIDCAudience))
	p := ciProvider(iss.URL, "")
	if _, err := v.Verify(context.Background(), oidcReceiver(p), nil, &Request{Header: bearer(token)}); err != nil {
		t.Fatal(err)
	}
	p.Validations = []api.OIDCValidates{{Expression: "vars.repo == 'org/other'", Message: "wrong repository"}}
	_, err := v.Verify(context.Background(), oidcReceiver(p), nil, &Request{Header: bearer(token)})
	refused(t, err, "token validation failed: wrong repository", token)
	p.Variables[0].Expression = "'org/' + 'other'"
	if _, err := v.Verify(context.Background(), oidcReceiver(p), nil, &Request{Header: bearer(token)}); err != nil {
		t.Fatalf("after the variable changed: %v", err)
	}
	// An expression that does not compile is a 400 naming the issuer.
	p.Validations[0].Expression = "vars.repo =="
	_, err = v.Verify(context.Background(), oidcReceiver(p), nil, &Request{Header: bearer(token)})
	refused(t, err, `invalid oidcProvider configuration for issuer "`+iss.URL+`": invalid expression for validation "wrong repository"`, token)
}

// TestGenericOIDCIssuerUnreachable: discovery that fails is a 400 and is
// tried again on the next call; a redirect to another host is not followed.
func TestGenericOIDCIssuerUnreachable(t *testing.T) {
	elsewhere := receivertest.NewIssuer(t)
	redirecting := httptest.NewServer(http.RedirectHandler(elsewhere.URL+"/.well-known/openid-configuration", http.StatusFound))
	t.Cleanup(redirecting.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	v := new(Verifier)
	for _, url := range []string{redirecting.URL, down.URL} {
		rcv := oidcReceiver(ciProvider(url, ""))
		token := elsewhere.Sign(t, with(ciClaims(elsewhere, DefaultOIDCAudience), "iss", url))
		for range 2 {
			_, err := v.Verify(context.Background(), rcv, nil, &Request{Header: bearer(token)})
			refused(t, err, `failed to initialize OIDC provider for issuer "`+url+`"`, token)
		}
	}
	if n := elsewhere.Discoveries(); n != 0 {
		t.Errorf("the redirect was followed %d times", n)
	}
	if v.issuers.len() != 0 {
		t.Errorf("failed discoveries were cached")
	}
}

// TestVerifierConcurrent runs first calls in parallel on a zero Verifier;
// the race detector checks its lazy state.
func TestVerifierConcurrent(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	v := &Verifier{GoogleJWKSURL: iss.JWKSURL()}
	oidcRcv := oidcReceiver(ciProvider(iss.URL, ""))
	gcrRcv := receiverOf("gcr")
	oidcToken := iss.Sign(t, ciClaims(iss, DefaultOIDCAudience))
	gcrToken := iss.Sign(t, receivertest.GoogleClaims("https://accounts.google.com", gcrEmail, gcrAudience))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				_, err = v.Verify(context.Background(), oidcRcv, nil, &Request{Header: bearer(oidcToken)})
			} else {
				_, err = v.Verify(context.Background(), gcrRcv, gcrSecret(), &Request{Header: bearer(gcrToken), Body: pushEnvelope(t, gcrEventJSON)})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestBoundedCache(t *testing.T) {
	var c boundedCache[int]
	for i := range cacheLimit + 10 {
		c.put(string(rune('a'+i)), i)
	}
	c.put(string(rune('a'+cacheLimit+9)), -1) // replacing keeps one entry
	if c.len() != cacheLimit {
		t.Fatalf("%d entries, want the limit %d", c.len(), cacheLimit)
	}
	if _, ok := c.get("a"); ok {
		t.Error("the oldest entry survived")
	}
	if v, ok := c.get(string(rune('a' + cacheLimit + 9))); !ok || v != -1 {
		t.Errorf("newest entry = %d, %v", v, ok)
	}
}

func TestSafeText(t *testing.T) {
	const token = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJodHRwczovL3guZXhhbXBsZSJ9.c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
	for msg, want := range map[string]string{
		"oidc: token is expired": "oidc: token is expired",
		"bad jwt " + token:       "details withheld: they quote the token",
		"bad signature c2lnbmF0dXJlLWJ5dGVzLWhlcmU somewhere": "details withheld: they quote the token",
	} {
		if got := safeText(errors.New(msg), token); got != want {
			t.Errorf("safeText(%q) = %q, want %q", msg, got, want)
		}
	}
	if got := clip(strings.Repeat("é", 300)); len(got) > maxQuoted+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("clip() = %d bytes", len(got))
	}
	if !reflect.DeepEqual(with(map[string]any{"a": 1}, "a", nil, "b", 2), map[string]any{"b": 2}) {
		t.Error("with() is broken")
	}
}
