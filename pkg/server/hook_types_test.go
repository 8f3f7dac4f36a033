package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/receiver/cdevents"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/memory"
)

// typeCall is a sender's call to a Receiver of one type: the documented
// example payload from pkg/receiver/testdata with the headers the sender
// sets, signed with hookToken where the type is signed.
type typeCall struct {
	typ    string
	events []string
	sample string
	header func(body []byte) http.Header
}

func macHex(newHash func() hash.Hash, key string, body []byte) string {
	mac := hmac.New(newHash, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

var typeCalls = []typeCall{
	{typ: "bitbucket", events: []string{"repo:push"}, sample: "bitbucket-repo-push.json", header: func(b []byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "X-Event-Key": {"repo:push"}, "X-Hub-Signature": {"sha256=" + macHex(sha256.New, hookToken, b)}}
	}},
	{typ: "harbor", sample: "harbor-push-artifact.json", header: func([]byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Authorization": {hookToken}}
	}},
	{typ: "dockerhub", sample: "dockerhub-push.json", header: func([]byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}}
	}},
	{typ: "quay", sample: "quay-repository-push.json", header: func([]byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}}
	}},
	{typ: "nexus", sample: "nexus-component-created.json", header: func(b []byte) http.Header {
		return http.Header{"Content-Type": {"application/json; charset=UTF-8"}, "X-Nexus-Webhook-Signature": {macHex(sha1.New, hookToken, b)}}
	}},
	{typ: "acr", sample: "acr-push.json", header: func([]byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}}
	}},
	{typ: "cdevents", events: []string{"dev.cdevents.artifact.published.0.2.0"}, sample: "cdevents-artifact-published.json", header: func([]byte) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Type": {"dev.cdevents.artifact.published.0.2.0"}}
	}},
}

// typeHookServer serves one Receiver per type, named after it, and a
// suspended one, "<type>-paused", with the same token.
func typeHookServer(t *testing.T) (http.Handler, *memory.ReconcileRequests) {
	t.Helper()
	cfg := &api.Config{
		Secrets: []api.Secret{{Metadata: api.ObjectMeta{Name: "hook-token", Namespace: "flux-system"}, Data: map[string][]byte{"token": []byte(hookToken)}}},
	}
	for _, c := range typeCalls {
		for _, paused := range []bool{false, true} {
			name := c.typ
			if paused {
				name += "-paused"
			}
			rcv := receiverObject(name, c.typ, paused, nil)
			rcv.Spec.Events = c.events
			cfg.Receivers = append(cfg.Receivers, rcv)
		}
	}
	snap, err := config.NewSnapshot(cfg, noNotifier, config.SnapshotOptions{IndexReceivers: true})
	if err != nil {
		t.Fatal(err)
	}
	requests := memory.NewReconcileRequests(time.Hour)
	h := &Hooks{
		Lookup:   SnapshotReceivers(staticConfig{snap}),
		Verifier: &receiver.Verifier{CDEvents: cdevents.Validate},
		Requests: requests,
		Logger:   slog.New(slog.NewJSONHandler(io.Discard, nil)),
	}
	return Routes(Handlers{Hooks: h, Config: staticConfig{snap}}, nil), requests
}

// TestHookTypes drives each receiver type through the HTTP handler: the
// sender's call is answered 200 and records one reconcile request; the
// same call with a query string finds no Receiver (404), as in Flux; a
// suspended Receiver answers 503; and a call that fails the type's check
// is a 400 that records nothing.
func TestHookTypes(t *testing.T) {
	h, requests := typeHookServer(t)
	recorded := func(t *testing.T, name string) int {
		t.Helper()
		all, err := requests.ListReconcileRequests(context.Background(), store.AllClusters, "", 1000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range all {
			if r.Receiver == "flux-system/"+name {
				n++
				if r.Kind != "GitRepository" || r.Name != "podinfo" || r.Namespace != "flux-system" || r.APIVersion != "source.toolkit.fluxcd.io/v1" {
					t.Errorf("reconcile request %+v", r)
				}
			}
		}
		return n
	}
	for _, c := range typeCalls {
		t.Run(c.typ, func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("..", "receiver", "testdata", c.sample))
			if err != nil {
				t.Fatal(err)
			}
			// call posts sent with the headers the sender sets for signed.
			call := func(name, query string, signed, sent []byte) *http.Request {
				req := httptest.NewRequest(http.MethodPost, receiver.Path([]byte(hookToken), name, "flux-system")+query, strings.NewReader(string(sent)))
				maps.Copy(req.Header, c.header(signed))
				return req
			}
			check := func(what string, req *http.Request, status int, msg string) {
				t.Helper()
				rec := serve(h, req)
				if rec.Code != status {
					t.Fatalf("%s: status %d, want %d: %s", what, rec.Code, status, rec.Body.String())
				}
				if msg != "" {
					if got := errorOf(t, rec); got != msg {
						t.Fatalf("%s: error %q, want %q", what, got, msg)
					}
				}
				if strings.Contains(rec.Body.String(), hookToken) {
					t.Fatalf("%s: the response leaks the token", what)
				}
			}

			check("query string", call(c.typ, "?ref=main", body, body), http.StatusNotFound, "no receiver for this path")
			check("suspended", call(c.typ+"-paused", "", body, body), http.StatusServiceUnavailable, "receiver flux-system/"+c.typ+"-paused is suspended")
			if n := recorded(t, c.typ) + recorded(t, c.typ+"-paused"); n != 0 {
				t.Fatalf("%d reconcile requests after the refused calls, want 0", n)
			}

			rec := serve(h, call(c.typ, "", body, body))
			if rec.Code != http.StatusOK || rec.Body.String() != `{"reconcileRequests":1}`+"\n" {
				t.Fatalf("valid call: %d %s, want 200 {\"reconcileRequests\":1}", rec.Code, rec.Body.String())
			}
			if n := recorded(t, c.typ); n != 1 {
				t.Fatalf("%d reconcile requests after the valid call, want 1", n)
			}

			// The type's own check refuses a damaged call with a 400.
			var bad *http.Request
			switch c.typ {
			case "bitbucket", "nexus":
				bad = call(c.typ, "", body, append(body, ' ')) // the signature of other bytes
			case "harbor":
				bad = call(c.typ, "", body, body)
				bad.Header.Set("Authorization", "guess")
			default:
				bad = call(c.typ, "", []byte("{"), []byte("{"))
			}
			check("damaged call", bad, http.StatusBadRequest, "")
			if n := recorded(t, c.typ); n != 1 {
				t.Fatalf("%d reconcile requests after the damaged call, want still 1", n)
			}
		})
	}
}
