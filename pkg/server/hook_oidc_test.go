package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/receiver/receivertest"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/memory"
)

const (
	gcrEmail    = "gcr-push@my-project.iam.gserviceaccount.com"
	gcrAudience = "https://herald.example.com/hook/gcr"
)

func oidcReceiverObject(name, issuerURL string, suspend bool) api.Receiver {
	r := receiverObject(name, "generic-oidc", suspend, nil)
	r.Spec.SecretRef, r.Spec.Events = nil, nil
	r.Spec.OIDCProviders = []api.OIDCProvider{{
		IssuerURL:   issuerURL,
		Validations: []api.OIDCValidates{{Expression: "claims.sub == 'repo:org/app'", Message: "wrong repository"}},
	}}
	return r
}

// oidcHookServer serves a generic-oidc Receiver trusting iss, a suspended
// one, and a gcr Receiver whose Google keys iss serves; logs go to logs.
func oidcHookServer(t *testing.T, iss *receivertest.Issuer) (http.Handler, *memory.ReconcileRequests, *testlog.Buffer) {
	t.Helper()
	gcr := receiverObject("gcr", "gcr", false, nil)
	gcr.Spec.Events = nil
	cfg := &api.Config{
		Receivers: []api.Receiver{oidcReceiverObject("ci", iss.URL, false), oidcReceiverObject("ci-paused", iss.URL, true), gcr},
		Secrets: []api.Secret{{Metadata: api.ObjectMeta{Name: "hook-token", Namespace: "flux-system"},
			Data: map[string][]byte{"token": []byte(hookToken), "email": []byte(gcrEmail), "audience": []byte(gcrAudience)}}},
	}
	snap, err := config.NewSnapshot(cfg, noNotifier, config.SnapshotOptions{IndexReceivers: true})
	if err != nil {
		t.Fatal(err)
	}
	requests := memory.NewReconcileRequests(time.Hour)
	logs := &testlog.Buffer{}
	hooks := &Hooks{
		Lookup:   SnapshotReceivers(staticConfig{snap}),
		Verifier: &receiver.Verifier{GoogleJWKSURL: iss.JWKSURL()},
		Requests: requests,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	return Routes(Handlers{Hooks: hooks}, nil), requests, logs
}

func bearerCall(path, token string, body []byte) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	return req
}

func TestHookGenericOIDC(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	h, requests, _ := oidcHookServer(t, iss)
	// §5.1: the path of a generic-oidc Receiver digests an empty token.
	path := receiver.Path(nil, "ci", "flux-system")
	token := iss.Sign(t, iss.Claims("repo:org/app", receiver.DefaultOIDCAudience))

	rec := serve(h, bearerCall(path, token, []byte(`{}`)))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"reconcileRequests":1}`+"\n" {
		t.Fatalf("valid token: %d %s, want 200 and one reconcile request", rec.Code, rec.Body.String())
	}
	got, err := requests.ListReconcileRequests(context.Background(), store.AllClusters, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Kind != "GitRepository" || got[0].Name != "podinfo" || got[0].Receiver != "flux-system/ci" {
		t.Fatalf("reconcile requests %+v", got)
	}

	for _, tc := range []struct {
		name   string
		req    *http.Request
		status int
		msg    string
	}{
		{"query string finds nothing, as in Flux", bearerCall(path+"?ref=main", token, nil), 404, "no receiver"},
		{"suspended", bearerCall(receiver.Path(nil, "ci-paused", "flux-system"), token, nil), 503, "receiver flux-system/ci-paused is suspended"},
		{"failed validation", bearerCall(path, iss.Sign(t, iss.Claims("repo:org/other", receiver.DefaultOIDCAudience)), nil), 400,
			"token validation failed: wrong repository"},
		{"no token", httptest.NewRequest(http.MethodPost, path, nil), 400, "the Authorization header is missing or malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.req)
			if rec.Code != tc.status || !strings.Contains(errorOf(t, rec), tc.msg) {
				t.Fatalf("%d %s, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.msg)
			}
		})
	}
	if got, _ := requests.ListReconcileRequests(context.Background(), store.AllClusters, "", 10); len(got) != 1 {
		t.Fatalf("%d reconcile requests after the refused calls, want 1", len(got))
	}
}

// TestHookTokensNeverLogged: refused and accepted calls of both token
// types leave no bearer token, nor the gcr Receiver's webhook token, in
// the responses or the logs.
func TestHookTokensNeverLogged(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	stranger := receivertest.NewKey(t)
	h, _, logs := oidcHookServer(t, iss)
	oidcPath := receiver.Path(nil, "ci", "flux-system")
	gcrPath := receiver.Path([]byte(hookToken), "gcr", "flux-system")
	claims := iss.Claims("repo:org/app", receiver.DefaultOIDCAudience)
	google := receivertest.GoogleClaims("https://accounts.google.com", gcrEmail, gcrAudience)
	envelope := []byte(`{"message":{"data":"` + base64.StdEncoding.EncodeToString([]byte(`{"action":"INSERT","tag":"r/app:1"}`)) + `"}}`)
	withClaim := func(c map[string]any, k string, v any) map[string]any {
		out := map[string]any{k: v}
		for key, val := range c {
			if key != k {
				out[key] = val
			}
		}
		return out
	}
	calls := []struct {
		path, token string
		body        []byte
		status      int
	}{
		{oidcPath, iss.Sign(t, claims), nil, 200},
		{oidcPath, iss.Sign(t, withClaim(claims, "sub", "repo:org/other")), nil, 400},
		{oidcPath, iss.Sign(t, withClaim(claims, "exp", time.Now().Add(-time.Hour).Unix())), nil, 400},
		{oidcPath, iss.Sign(t, withClaim(claims, "aud", "other")), nil, 400},
		{oidcPath, stranger.Sign(t, claims), nil, 400},
		{oidcPath, stranger.Sign(t, withClaim(claims, "iss", "https://unknown.example.com")), nil, 400},
		{oidcPath, "not.a-jwt-but-a-long-opaque-secret-value.x", nil, 400},
		{gcrPath, iss.Sign(t, google), envelope, 200},
		{gcrPath, iss.Sign(t, withClaim(google, "email_verified", false)), envelope, 400},
		{gcrPath, iss.Sign(t, withClaim(google, "aud", "other")), envelope, 400},
		{gcrPath, stranger.Sign(t, google), envelope, 400},
		{gcrPath, iss.Sign(t, google), []byte(`{"message":{"data":"%%%"}}`), 400},
	}
	var responses strings.Builder
	for i, c := range calls {
		rec := serve(h, bearerCall(c.path, c.token, c.body))
		if rec.Code != c.status {
			t.Errorf("call %d: %d %s, want %d", i, rec.Code, rec.Body.String(), c.status)
		}
		responses.WriteString(rec.Body.String())
	}
	if !strings.Contains(logs.String(), "webhook refused") || !strings.Contains(logs.String(), "webhook accepted") {
		t.Fatalf("the calls were not logged:\n%s", logs)
	}
	for i, c := range calls {
		for part := range strings.SplitSeq(c.token, ".") {
			if len(part) < 16 {
				continue
			}
			if strings.Contains(logs.String(), part) || strings.Contains(responses.String(), part) {
				t.Errorf("call %d: its token shows in the logs or a response", i)
			}
		}
	}
	if strings.Contains(logs.String()+responses.String(), hookToken) {
		t.Error("the gcr webhook token shows in the logs or a response")
	}
}

// TestStoreReceiversGenericOIDC: the Lambda's lookup reads no secret for a
// Receiver without secretRef.
func TestStoreReceiversGenericOIDC(t *testing.T) {
	rcv := oidcReceiverObject("ci", "https://issuer.example.com", false)
	lookup := StoreReceivers(func(context.Context, string) (api.Receiver, bool, error) { return rcv, true, nil },
		func(namespace, name string) (map[string][]byte, error) {
			return nil, errors.New("no secret may be read")
		})
	got, secret, err := lookup(context.Background(), receiver.Digest(nil, "ci", "flux-system"))
	if err != nil || got == nil || got.Spec.Type != "generic-oidc" || secret != nil {
		t.Fatalf("lookup() = %v, %v, %v", got, secret, err)
	}
}

// TestHookOIDCClaimsReachTheFilters: the verified claims of a generic-oidc
// call are the filters' claims. A filter that reads claims and req leaves
// only res for the forwarder, with the claim's value folded in, and one
// that claims exclude records nothing.
func TestHookOIDCClaimsReachTheFilters(t *testing.T) {
	iss := receivertest.NewIssuer(t)
	rcv := oidcReceiverObject("ci", iss.URL, false)
	rcv.Spec.ResourceFilter = `claims.sub == 'repo:org/app' && res.metadata.labels.repo == claims.sub.split(':')[1].split('/')[1]`
	rcv.Spec.Resources = append(rcv.Spec.Resources, api.ReceiverResource{
		CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "OCIRepository", Name: "charts"},
		Filter:                        `req.ref == 'refs/heads/' + claims.branch`,
	})
	snap, err := config.NewSnapshot(&api.Config{Receivers: []api.Receiver{rcv}}, noNotifier, config.SnapshotOptions{IndexReceivers: true})
	if err != nil {
		t.Fatal(err)
	}
	requests := memory.NewReconcileRequests(time.Hour)
	h := Routes(Handlers{Hooks: &Hooks{
		Lookup:   SnapshotReceivers(staticConfig{snap}),
		Verifier: &receiver.Verifier{},
		Requests: requests,
		Logger:   slog.New(slog.DiscardHandler),
	}}, nil)
	path := receiver.Path(nil, "ci", "flux-system")
	claims := iss.Claims("repo:org/app", receiver.DefaultOIDCAudience)
	claims["branch"] = "main"

	rec := serve(h, bearerCall(path, iss.Sign(t, claims), []byte(`{"ref":"refs/heads/main"}`)))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"reconcileRequests":2}`+"\n" {
		t.Fatalf("%d %s, want 200 and two reconcile requests", rec.Code, rec.Body.String())
	}
	got, err := requests.ListReconcileRequests(context.Background(), store.AllClusters, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("reconcile requests %+v, want two", got)
	}
	// Only res is left: the claims are folded in, and the OCIRepository's
	// own filter, true for this call, leaves the Receiver's alone.
	const want = `res.metadata.labels.repo == "app"`
	for _, r := range got {
		if r.Filter != want {
			t.Errorf("%s %s carries filter %q, want %q", r.Kind, r.Name, r.Filter, want)
		}
	}

	// Another branch: the OCIRepository's filter is false for the call,
	// so only the GitRepository is requested.
	claims["branch"] = "dev"
	rec = serve(h, bearerCall(path, iss.Sign(t, claims), []byte(`{"ref":"refs/heads/main"}`)))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"reconcileRequests":1}`+"\n" {
		t.Fatalf("branch dev: %d %s, want 200 and one reconcile request", rec.Code, rec.Body.String())
	}
}
