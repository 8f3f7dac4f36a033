package server

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/memory"
)

func receiverObject(name, typ string, suspend bool, labels map[string]string) api.Receiver {
	return api.Receiver{
		TypeMeta: api.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1", Kind: api.KindReceiver},
		Metadata: api.ObjectMeta{Name: name, Namespace: "flux-system", Labels: labels},
		Spec: api.ReceiverSpec{
			Type: typ, Suspend: suspend, Events: []string{"push"},
			SecretRef: &api.LocalObjectReference{Name: "hook-token"},
			Resources: []api.ReceiverResource{{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "podinfo"}}},
		},
	}
}

const hookToken = "hook-s3cr3t"

func hookServer(t *testing.T) (http.Handler, *memory.ReconcileRequests) {
	t.Helper()
	cfg := &api.Config{
		Receivers: []api.Receiver{
			receiverObject("github", "github", false, nil),
			receiverObject("paused", "generic", true, nil),
			receiverObject("prod-only", "generic", false, map[string]string{api.ClusterLabel: "prod"}),
		},
		Secrets: []api.Secret{{Metadata: api.ObjectMeta{Name: "hook-token", Namespace: "flux-system"}, Data: map[string][]byte{"token": []byte(hookToken)}}},
	}
	snap, err := config.NewSnapshot(cfg, noNotifier, config.SnapshotOptions{IndexReceivers: true})
	if err != nil {
		t.Fatal(err)
	}
	requests := memory.NewReconcileRequests(time.Hour)
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	auth := &Authenticator{Tokens: StaticTokens(map[string]string{"prod": "prod-token"})}
	h := Handlers{
		Hooks:  &Hooks{Lookup: SnapshotReceivers(staticConfig{snap}), Verifier: new(receiver.Verifier), Requests: requests, Logger: logger},
		Poll:   &Poll{Auth: auth, Replays: memory.NewReplays(), Requests: requests, Logger: logger},
		Config: staticConfig{snap},
	}
	return Routes(h, nil), requests
}

func githubCall(path, body, key, eventType string) *http.Request {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GitHub-Event", eventType)
	req.Header.Set("X-Hub-Signature-256", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	return req
}

func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func TestHooks(t *testing.T) {
	h, _ := hookServer(t)
	github := receiver.Path([]byte(hookToken), "github", "flux-system")
	paused := receiver.Path([]byte(hookToken), "paused", "flux-system")
	const push = `{"ref":"refs/heads/main"}`
	tests := []struct {
		name   string
		req    *http.Request
		status int
		msg    string
	}{
		{"accepted", githubCall(github, push, hookToken, "push"), 200, ""},
		{"bad signature", githubCall(github, push, "guess", "push"), 400, "the GitHub signature header is invalid"},
		{"event not allowed", githubCall(github, `{"zen":"z"}`, hookToken, "ping"), 400, `the GitHub event "ping" is not authorised`},
		{"query string finds nothing, as in Flux", githubCall(github+"?x=1", push, hookToken, "push"), 404, "no receiver"},
		{"unknown digest", githubCall(receiver.Path([]byte("other"), "github", "flux-system"), push, hookToken, "push"), 404, "no receiver"},
		{"not a digest", githubCall("/hook/ABCDEF", push, hookToken, "push"), 404, "no receiver"},
		{"suspended", httptest.NewRequest(http.MethodPost, paused, nil), 503, "receiver flux-system/paused is suspended"},
		{"too large", githubCall(github, strings.Repeat("x", MaxEventBytes+1), hookToken, "push"), 413, "exceeds 3 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serve(h, tc.req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.msg != "" {
				if msg := errorOf(t, rec); !strings.Contains(msg, tc.msg) {
					t.Fatalf("error %q does not say %q", msg, tc.msg)
				}
			}
			if strings.Contains(rec.Body.String(), hookToken) {
				t.Fatal("the response leaks the token")
			}
		})
	}
}

func TestHookRecordsRequestsForThePoll(t *testing.T) {
	h, _ := hookServer(t)
	if rec := serve(h, githubCall(receiver.Path([]byte(hookToken), "github", "flux-system"), `{}`, hookToken, "push")); rec.Code != 200 {
		t.Fatalf("github hook: %d %s", rec.Code, rec.Body.String())
	}
	prodOnly := httptest.NewRequest(http.MethodPost, receiver.Path([]byte(hookToken), "prod-only", "flux-system"), nil)
	if rec := serve(h, prodOnly); rec.Code != 200 {
		t.Fatalf("generic hook: %d %s", rec.Code, rec.Body.String())
	}

	poll := func(cluster, token, after string) PollResponse {
		req := httptest.NewRequest(http.MethodGet, "/reconcile-requests?after="+after, nil)
		clusterauth.Sign(req.Header, cluster, []byte(token), req.Method, req.URL.RequestURI(), nil, time.Now())
		rec := serve(h, req)
		if rec.Code != 200 {
			t.Fatalf("poll as %s: %d %s", cluster, rec.Code, rec.Body.String())
		}
		var resp PollResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		return resp
	}
	first := poll("prod", "prod-token", "")
	if len(first.Requests) != 2 || first.Requests[0].Receiver != "flux-system/github" || first.Requests[1].Receiver != "flux-system/prod-only" {
		t.Fatalf("prod's poll: %+v", first.Requests)
	}
	got := first.Requests[0]
	if got.APIVersion != "source.toolkit.fluxcd.io/v1" || got.Kind != "GitRepository" || got.Namespace != "flux-system" || got.Name != "podinfo" {
		t.Fatalf("request %+v", got)
	}
	if first.Cursor != first.Requests[1].ID {
		t.Fatalf("cursor %q, want the last ID %q", first.Cursor, first.Requests[1].ID)
	}
	if again := poll("prod", "prod-token", first.Cursor); len(again.Requests) != 0 || again.Cursor != first.Cursor {
		t.Fatalf("poll after the cursor: %+v", again)
	}

	// A captured poll cannot be replayed with another cursor: the signature
	// binds the request target.
	replayed := httptest.NewRequest(http.MethodGet, "/reconcile-requests?after=", nil)
	clusterauth.Sign(replayed.Header, "prod", []byte("prod-token"), replayed.Method, "/reconcile-requests?after="+first.Cursor, nil, time.Now())
	if rec := serve(h, replayed); rec.Code != http.StatusUnauthorized {
		t.Fatalf("poll signed for another cursor: %d, want 401", rec.Code)
	}

	unsigned := serve(h, httptest.NewRequest(http.MethodGet, "/reconcile-requests", nil))
	if unsigned.Code != http.StatusUnauthorized {
		t.Fatalf("unsigned poll: %d", unsigned.Code)
	}
	bad := httptest.NewRequest(http.MethodGet, "/reconcile-requests?after=x'", nil)
	clusterauth.Sign(bad.Header, "prod", []byte("prod-token"), bad.Method, bad.URL.RequestURI(), nil, time.Now())
	if rec := serve(h, bad); rec.Code != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d", rec.Code)
	}
}

// TestPollRefusesReplays: a signed poll is answered once; its replay gets
// 401 "replayed request", while two polls the forwarder signs with the
// same cursor in the same second are both answered.
func TestPollRefusesReplays(t *testing.T) {
	h, _ := hookServer(t)
	now := time.Now()
	signed := func() *http.Request {
		req := httptest.NewRequest(http.MethodGet, "/reconcile-requests?after=", nil)
		clusterauth.Sign(req.Header, "prod", []byte("prod-token"), req.Method, req.URL.RequestURI(), nil, now)
		return req
	}
	first := signed()
	for i, req := range []*http.Request{first, signed(), signed()} {
		if rec := serve(h, req); rec.Code != http.StatusOK {
			t.Fatalf("poll %d: %d %s, want 200", i+1, rec.Code, rec.Body.String())
		}
	}
	replay := httptest.NewRequest(http.MethodGet, "/reconcile-requests?after=", nil)
	maps.Copy(replay.Header, first.Header)
	rec := serve(h, replay)
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("replayed poll: %d %s, want 401", rec.Code, rec.Body.String())
	}
	if msg := errorOf(t, rec); msg != "replayed request" {
		t.Fatalf("replayed poll: error %q, want \"replayed request\"", msg)
	}
}
