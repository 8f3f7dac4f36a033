package server

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/memory"
)

// fuzzHooks is the webhook handler over a github and a generic Receiver,
// whose lookup reports the digests it is asked for.
func fuzzHooks(f *testing.F, looked *[]string) *Hooks {
	cfg := &api.Config{
		Receivers: []api.Receiver{receiverObject("github", "github", false, nil), receiverObject("generic", "generic", false, nil)},
		Secrets:   []api.Secret{{Metadata: api.ObjectMeta{Name: "hook-token", Namespace: "flux-system"}, Data: map[string][]byte{"token": []byte(hookToken)}}},
	}
	snap, err := config.NewSnapshot(cfg, noNotifier, config.SnapshotOptions{IndexReceivers: true})
	if err != nil {
		f.Fatal(err)
	}
	lookup := SnapshotReceivers(staticConfig{snap})
	return &Hooks{
		Lookup: func(ctx context.Context, digest string) (*api.Receiver, map[string][]byte, error) {
			*looked = append(*looked, digest)
			return lookup(ctx, digest)
		},
		Verifier: new(receiver.Verifier),
		Requests: memory.NewReconcileRequests(time.Hour),
		Logger:   slog.New(slog.DiscardHandler),
	}
}

// FuzzHookPath sends webhooks to arbitrary request URIs. Only
// /hook/<64 lower-case hex digits> reaches the Receiver lookup, with
// exactly those digits; anything else is a 404, and no answer quotes the
// token. A GitHub call is signed, so that its body reaches the payload
// parser.
func FuzzHookPath(f *testing.F) {
	github := receiver.Path([]byte(hookToken), "github", "flux-system")
	generic := receiver.Path([]byte(hookToken), "generic", "flux-system")
	f.Add(github, "push", []byte(`{"ref":"refs/heads/main"}`))
	f.Add(github, "ping", []byte(`{"zen":"z"}`))
	f.Add(generic, "", []byte(nil))
	f.Add(generic+"?x=1", "", []byte(nil))
	f.Add(strings.ToUpper(generic), "", []byte(nil))
	f.Add("/hook/"+strings.Repeat("0", 64), "", []byte(nil))
	f.Add("/hook/ABCDEF", "push", []byte(nil))
	f.Add("/hook//"+strings.Repeat("a", 63), "", []byte(nil))
	f.Add("/hooks/x", "", []byte(nil))
	var looked []string
	h := fuzzHooks(f, &looked)
	f.Fuzz(func(t *testing.T, uri, eventType string, body []byte) {
		looked = looked[:0]
		h.Requests = memory.NewReconcileRequests(time.Hour) // a fresh one, so that memory stays flat
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.RequestURI = uri
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-GitHub-Event", eventType)
		req.Header.Set("X-Hub-Signature-256", "sha256="+hmacSHA256(hookToken, body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		digest, isHook := strings.CutPrefix(uri, receiver.HookPrefix)
		wellFormed := isHook && len(digest) == 64 && strings.Trim(digest, "0123456789abcdef") == ""
		switch {
		case !wellFormed && len(looked) > 0:
			t.Fatalf("%q reached the lookup with %q", uri, looked)
		case wellFormed && (len(looked) != 1 || looked[0] != digest):
			t.Fatalf("%q looked up %q", uri, looked)
		case !wellFormed && rec.Code != http.StatusNotFound:
			t.Fatalf("%q: status %d, want 404", uri, rec.Code)
		case uri != github && uri != generic && rec.Code != http.StatusNotFound:
			t.Fatalf("%q: status %d for an unknown digest", uri, rec.Code)
		case uri == generic && rec.Code != http.StatusOK:
			t.Fatalf("generic hook: status %d: %s", rec.Code, rec.Body)
		case uri == github && rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest:
			t.Fatalf("github hook: status %d: %s", rec.Code, rec.Body)
		}
		if strings.Contains(rec.Body.String(), hookToken) {
			t.Fatalf("the answer quotes the token: %s", rec.Body)
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("the answer is not JSON: %q", rec.Body)
		}
	})
}

func hmacSHA256(key string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// FuzzPollCursor polls with arbitrary query strings, signed as the
// forwarder signs them. A cursor of at most 64 digits and '-' is served
// with the requests after it and a cursor that is the last ID returned or
// the one sent; anything else is a 400; the same signature on another
// target is a 401.
func FuzzPollCursor(f *testing.F) {
	f.Add("after=")
	f.Add("after=42")
	f.Add("after=00000000000000000000-00000001")
	f.Add("after=x'")
	f.Add("after=%2D1&after=2")
	f.Add("after=" + strings.Repeat("9", 65))
	f.Add("after=%zz")
	f.Add("")
	requests := memory.NewReconcileRequests(time.Hour)
	now := time.Now()
	for i := range 3 {
		reqs := []receiver.ReconcileRequest{{Kind: "GitRepository", Namespace: "flux-system", Name: "podinfo", RequestedAt: now.Add(time.Duration(i) * time.Second)}}
		if err := requests.PutReconcileRequests(context.Background(), "prod", reqs); err != nil {
			f.Fatal(err)
		}
	}
	p := &Poll{
		Auth:     &Authenticator{Tokens: StaticTokens(map[string]string{"prod": "prod-token"})},
		Replays:  memory.NewReplays(),
		Requests: requests,
		Logger:   slog.New(slog.DiscardHandler),
		Now:      func() time.Time { return now },
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		target := "/reconcile-requests?" + rawQuery
		u, err := url.ParseRequestURI(target)
		if err != nil || u.RequestURI() != target {
			return // no server hands such a target to a handler
		}
		poll := func(signedFor string) *httptest.ResponseRecorder {
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.URL, req.RequestURI = u, target
			clusterauth.Sign(req.Header, "prod", []byte("prod-token"), http.MethodGet, signedFor, nil, now)
			rec := httptest.NewRecorder()
			p.ServeHTTP(rec, req)
			return rec
		}

		if rec := poll(target + "&"); rec.Code != http.StatusUnauthorized {
			t.Fatalf("a poll signed for another target: status %d", rec.Code)
		}
		rec := poll(target)
		after := u.Query().Get("after")
		valid := len(after) <= 64 && strings.Trim(after, "0123456789-") == ""
		if !valid {
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("cursor %q: status %d, want 400", after, rec.Code)
			}
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("cursor %q: status %d: %s", after, rec.Code, rec.Body)
		}
		var resp PollResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatal(err)
		}
		for _, r := range resp.Requests {
			if r.ID <= after {
				t.Fatalf("cursor %q returned request %q", after, r.ID)
			}
		}
		if n := len(resp.Requests); n == 0 && resp.Cursor != after || n > 0 && resp.Cursor != resp.Requests[n-1].ID {
			t.Fatalf("cursor %q answered cursor %q with %d requests", after, resp.Cursor, n)
		}
	})
}
