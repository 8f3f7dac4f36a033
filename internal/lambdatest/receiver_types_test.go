package lambdatest_test

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/lambdatest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
)

// hookToken is the token of every Receiver in testReceiverTypes.
const hookToken = "hook-webhook-token-3a9d6e2f15c8"

// senderCall is how one sender calls a Receiver of its type: the user
// agent, the headers it sets (lower-cased, as API Gateway passes them),
// signed with key where the type is signed, and a call the type refuses.
type senderCall struct {
	typ       string
	events    []string
	sample    string // a file of pkg/receiver/testdata, or the body itself
	userAgent string
	headers   func(body []byte, key string) map[string]string
	// refused is a call that fails the type's check: signed or
	// authorised with another key, or a body that does not decode; nil
	// for a type that checks nothing.
	refused func(body []byte) (sent []byte, headers map[string]string)
	// resourceFilter is the Receiver's spec.resourceFilter, and filter
	// what is left of it for the forwarder after the call.
	resourceFilter, filter string
}

// withKey refuses a signed type's call by signing with another key.
func withKey(c *senderCall) func([]byte) ([]byte, map[string]string) {
	return func(body []byte) ([]byte, map[string]string) { return body, c.headers(body, "not-the-token") }
}

var senderCalls = func() []*senderCall {
	calls := []*senderCall{
		{typ: "bitbucket", events: []string{"repo:push"}, sample: "bitbucket-repo-push.json", userAgent: "Bitbucket-Webhooks/2.0",
			headers: func(b []byte, key string) map[string]string {
				return map[string]string{"x-event-key": "repo:push", "x-hub-signature": "sha256=" + hmacHex(sha256.New, key, b),
					"x-request-uuid": "9b8c1f0e-52b4-4a4e-9f43-2a5f0d7c1e66", "x-attempt-number": "1"}
			}},
		{typ: "harbor", sample: "harbor-push-artifact.json", userAgent: "Go-http-client/1.1",
			headers: func(_ []byte, key string) map[string]string { return map[string]string{"authorization": key} }},
		{typ: "dockerhub", sample: "dockerhub-push.json", userAgent: "Go-http-client/1.1",
			headers: func([]byte, string) map[string]string { return map[string]string{} }},
		{typ: "quay", sample: "quay-repository-push.json", userAgent: "python-requests/2.31.0",
			headers: func([]byte, string) map[string]string { return map[string]string{} }},
		{typ: "nexus", sample: "nexus-component-created.json", userAgent: "Nexus/3.61.0-02 (OSS; Linux; amd64)",
			headers: func(b []byte, key string) map[string]string {
				return map[string]string{"content-type": "application/json; charset=UTF-8", "x-nexus-webhook-id": "rm:repository:component",
					"x-nexus-webhook-signature": hmacHex(sha1.New, key, b), "x-nexus-webhook-delivery": "3a1e6a3c-1f53-4a0f-9a1c-2f3e4d5c6b7a"}
			}},
		{typ: "acr", sample: "acr-push.json", userAgent: "AzureContainerRegistry/1.0",
			headers: func([]byte, string) map[string]string { return map[string]string{} }},
		{typ: "cdevents", events: []string{"dev.cdevents.artifact.published.0.2.0"}, sample: "cdevents-artifact-published.json", userAgent: "cdevents-sdk-go",
			headers: func([]byte, string) map[string]string {
				return map[string]string{"ce-specversion": "1.0", "ce-type": "dev.cdevents.artifact.published.0.2.0",
					"ce-source": "/event/source/123", "ce-id": "271069a8-fc18-44f1-b38f-9d70a1695819"}
			}},
		// The URL is generic's only credential; its Receiver has a filter
		// that the call decides in part.
		{typ: "generic", sample: `{"ref":"refs/heads/main"}`, userAgent: "curl/8.5.0",
			headers:        func([]byte, string) map[string]string { return map[string]string{"content-type": "application/json"} },
			resourceFilter: `req.ref == 'refs/heads/main' && res.metadata.labels.env == 'prod'`,
			filter:         `res.metadata.labels.env == "prod"`},
		{typ: "generic-hmac", sample: `{"ref":"refs/heads/main"}`, userAgent: "curl/8.5.0",
			headers: func(b []byte, key string) map[string]string {
				return map[string]string{"x-signature": "sha256=" + hmacHex(sha256.New, key, b)}
			}},
		{typ: "gitlab", events: []string{"Push Hook"}, sample: `{"object_kind":"push","ref":"refs/heads/main"}`, userAgent: "GitLab/17.6.0",
			headers: func(_ []byte, key string) map[string]string {
				return map[string]string{"x-gitlab-event": "Push Hook", "x-gitlab-token": key, "x-gitlab-instance": "https://gitlab.example"}
			}},
	}
	for _, c := range calls {
		switch c.typ {
		case "generic":
		case "dockerhub", "quay", "acr", "cdevents":
			c.refused = func([]byte) ([]byte, map[string]string) { return []byte(`{"truncated":`), c.headers(nil, "") }
		default:
			c.refused = withKey(c)
		}
	}
	return calls
}()

// testReceiverTypes sends each receiver type's documented call through the
// receiver binary as API Gateway delivers it, lower-case header names and
// all, against DynamoDB Local and the Secrets Manager double: the call
// earns 200 and one reconcile request, and a call the type refuses earns
// 400 and records nothing.
func testReceiverTypes(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	st.sm.Set("herald/"+ns+"/hook-token", `{"token":"`+hookToken+`"}`)
	digests := map[string]string{}
	for _, c := range senderCalls {
		rcv := api.Receiver{
			TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1", Kind: api.KindReceiver},
			Metadata: api.ObjectMeta{Name: c.typ + "-hook", Namespace: ns, Labels: map[string]string{api.ClusterLabel: cluster}},
			Spec: api.ReceiverSpec{
				Type:           c.typ,
				Events:         c.events,
				SecretRef:      &api.LocalObjectReference{Name: "hook-token"},
				Resources:      []api.ReceiverResource{{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "OCIRepository", Name: "podinfo"}}},
				ResourceFilter: c.resourceFilter,
			},
		}
		digests[c.typ] = receiver.Digest([]byte(hookToken), rcv.Metadata.Name, ns)
		if _, err := st.store.PutReceiver(context.Background(), rcv, digests[c.typ]); err != nil {
			t.Fatal(err)
		}
	}
	f := lambdatest.Start(t, b.MustBuild(t, receiverPkg, lambdatest.Host()), st.env(false))
	recorded := func(c *senderCall) int {
		typ := c.typ
		n := 0
		for _, it := range st.query(t, "reconcile#"+cluster) {
			if it["receiver"] == ns+"/"+typ+"-hook" {
				n++
				if it["kind"] != "OCIRepository" || it["name"] != "podinfo" || it["namespace"] != ns || it["filter"] != c.filter {
					t.Errorf("%s: reconcile item %v", typ, it)
				}
			}
		}
		return n
	}

	for _, c := range senderCalls {
		t.Run(c.typ, func(t *testing.T) {
			body := []byte(c.sample)
			if strings.HasSuffix(c.sample, ".json") {
				var err error
				if body, err = os.ReadFile(filepath.Join("..", "..", "pkg", "receiver", "testdata", c.sample)); err != nil {
					t.Fatal(err)
				}
			}
			if c.refused != nil {
				sent, headers := c.refused(body)
				resp := invokeHTTP(t, f, senderEvent(t, digests[c.typ], c.userAgent, sent, headers).json(t))
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("refused call: %d %s, want 400", resp.StatusCode, resp.Body)
				}
				if strings.Contains(resp.Body, hookToken) {
					t.Errorf("the refusal quotes the token: %s", resp.Body)
				}
				if n := recorded(c); n != 0 {
					t.Fatalf("%d reconcile items after the refused call, want 0", n)
				}
			}

			resp := invokeHTTP(t, f, senderEvent(t, digests[c.typ], c.userAgent, body, c.headers(body, hookToken)).json(t))
			if resp.StatusCode != http.StatusOK || resp.Body != `{"reconcileRequests":1}`+"\n" {
				t.Fatalf("%s call: %d %q, want 200 {\"reconcileRequests\":1}", c.typ, resp.StatusCode, resp.Body)
			}
			if n := recorded(c); n != 1 {
				t.Fatalf("%d reconcile items after the call, want 1", n)
			}
		})
	}
	if strings.Contains(f.Output(), hookToken) {
		t.Error("the function's logs contain the token")
	}
}

// senderEvent is the HTTP API event of a sender posting body to
// /hook/<digest> with headers, whose names must be lower-case.
func senderEvent(t *testing.T, digest, userAgent string, body []byte, headers map[string]string) apiEvent {
	t.Helper()
	e := httpEvent(t, "http-api-v2-hook.json")
	e["rawPath"] = receiver.HookPrefix + digest
	e["pathParameters"] = map[string]any{"digest": digest}
	httpCtx := e["requestContext"].(map[string]any)["http"].(map[string]any)
	httpCtx["path"] = receiver.HookPrefix + digest
	httpCtx["userAgent"] = userAgent
	e.header("user-agent", userAgent)
	e.setBody(body)
	for name, value := range headers {
		if name != strings.ToLower(name) {
			t.Fatalf("header %q: API Gateway passes header names lower-case", name)
		}
		e.header(name, value)
	}
	return e
}
