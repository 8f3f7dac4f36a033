package receiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
)

// The example of the behaviour reference, §5.1.
func TestDigestReferenceVector(t *testing.T) {
	const want = "/hook/a8c70216a11cf7c8e4baefc2cb6795e0799d16e3c8e28d15eace6aba5aadddd0"
	if got := Path([]byte("token"), "receiver-name", "flux-system"); got != want {
		t.Fatalf("Path() = %s, want %s", got, want)
	}
}

func receiverOf(typ string, events ...string) *api.Receiver {
	return &api.Receiver{
		Metadata: api.ObjectMeta{Name: "r", Namespace: "flux-system"},
		Spec: api.ReceiverSpec{
			Type:      typ,
			Events:    events,
			SecretRef: &api.LocalObjectReference{Name: "webhook-token"},
			Resources: []api.ReceiverResource{{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "podinfo"}}},
		},
	}
}

func hmacHex(newHash func() hash.Hash, key, body string) string {
	mac := hmac.New(newHash, []byte(key))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

var (
	sha256New = sha256.New
	sha1New   = sha1.New
)

const pushBody = `{"ref":"refs/heads/main","repository":{"full_name":"org/repo"}}`

func TestVerify(t *testing.T) {
	secret := map[string][]byte{"token": []byte("s3cr3t")}
	form := "payload=" + url.QueryEscape(pushBody)
	tests := []struct {
		name   string
		rcv    *api.Receiver
		secret map[string][]byte
		header http.Header
		body   string
		status int // 0: accepted
		msg    string
	}{
		{name: "generic", rcv: receiverOf("generic"), body: "anything"},
		{name: "github sha256", rcv: receiverOf("github", "push"), body: pushBody, header: http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "s3cr3t", pushBody)}}},
		{name: "github sha1 and event case", rcv: receiverOf("github", "PUSH"), body: pushBody, header: http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"push"}, "X-Hub-Signature": {"sha1=" + hmacHex(sha1New, "s3cr3t", pushBody)}}},
		{name: "github form payload", rcv: receiverOf("github"), body: form, header: http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"}, "X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "s3cr3t", form)}}},
		{name: "github ping", rcv: receiverOf("github"), body: `{"zen":"x"}`, header: http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"ping"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "s3cr3t", `{"zen":"x"}`)}}},
		{name: "github bad signature", rcv: receiverOf("github"), body: pushBody, header: http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "guess", pushBody)}},
			status: 400, msg: "the GitHub signature header is invalid"},
		{name: "github unsigned", rcv: receiverOf("github"), body: pushBody, header: http.Header{"Content-Type": {"application/json"}, "X-Github-Event": {"push"}},
			status: 400, msg: "the GitHub signature header is invalid"},
		{name: "github event not allowed", rcv: receiverOf("github", "push"), body: `{"zen":"x"}`, header: http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"ping"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "s3cr3t", `{"zen":"x"}`)}},
			status: 400, msg: "the GitHub event \"ping\" is not authorised"},
		{name: "github wrong content type", rcv: receiverOf("github"), body: pushBody, header: http.Header{
			"Content-Type": {"text/plain"}, "X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "s3cr3t", pushBody)}},
			status: 400, msg: "unsupported Content-Type"},
		{name: "github undecodable body", rcv: receiverOf("github"), body: "{", header: http.Header{
			"Content-Type": {"application/json"}, "X-Github-Event": {"push"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, "s3cr3t", "{")}},
			status: 400, msg: "cannot decode GitHub body"},
		{name: "generic-hmac", rcv: receiverOf("generic-hmac"), body: "b", header: http.Header{"X-Signature": {"sha256=" + hmacHex(sha256New, "s3cr3t", "b")}}},
		{name: "generic-hmac mismatch", rcv: receiverOf("generic-hmac"), body: "b", header: http.Header{"X-Signature": {"sha256=" + hmacHex(sha256New, "x", "b")}},
			status: 400, msg: "signature mismatch"},
		{name: "generic-hmac missing", rcv: receiverOf("generic-hmac"), body: "b", status: 400, msg: "missing or malformed X-Signature"},
		{name: "gitlab", rcv: receiverOf("gitlab", "Push Hook"), header: http.Header{"X-Gitlab-Token": {"s3cr3t"}, "X-Gitlab-Event": {"Push Hook"}}},
		{name: "gitlab wrong token", rcv: receiverOf("gitlab"), header: http.Header{"X-Gitlab-Token": {"nope"}}, status: 400, msg: "does not match"},
		{name: "no token in secret", rcv: receiverOf("generic"), secret: map[string][]byte{}, status: 400,
			msg: `invalid "flux-system/webhook-token" secret data: required field 'token'`},
		{name: "unsupported type", rcv: receiverOf("no-such-type"), status: 501, msg: "receiver type not supported: no-such-type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := secret
			if tc.secret != nil {
				s = tc.secret
			}
			if tc.header == nil {
				tc.header = http.Header{}
			}
			_, err := new(Verifier).Verify(context.Background(), tc.rcv, s, &Request{Header: tc.header, Body: []byte(tc.body)})
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("Verify() = %v, want accepted", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || !strings.Contains(e.Error(), tc.msg) {
				t.Fatalf("Verify() = %v, want status %d with %q", err, tc.status, tc.msg)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Fatalf("the error leaks the token: %v", err)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	rcv := receiverOf("generic")
	rcv.Spec.Resources = []api.ReceiverResource{
		{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "podinfo", MatchLabels: map[string]string{"ignored": "yes"}}},
		{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "OCIRepository", Name: "*", Namespace: "apps", MatchLabels: map[string]string{"team": "a"}}},
		{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Name: "apps"}},
	}
	got, err := Requests(context.Background(), rcv, &Request{}, Result{}, now)
	if err != nil {
		t.Fatal(err)
	}
	want := []ReconcileRequest{
		{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "flux-system", Name: "podinfo", Receiver: "flux-system/r", RequestedAt: now},
		{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "OCIRepository", Namespace: "apps", Name: "*", MatchLabels: map[string]string{"team": "a"}, Receiver: "flux-system/r", RequestedAt: now},
		{APIVersion: "kustomize.toolkit.fluxcd.io/v1", Kind: "Kustomization", Namespace: "flux-system", Name: "apps", Receiver: "flux-system/r", RequestedAt: now},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d requests, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].APIVersion != want[i].APIVersion || got[i].Kind != want[i].Kind || got[i].Namespace != want[i].Namespace ||
			got[i].Name != want[i].Name || len(got[i].MatchLabels) != len(want[i].MatchLabels) || got[i].Receiver != want[i].Receiver || !got[i].RequestedAt.Equal(now) {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}

	// A resource in error fails alone, as in Flux: the others are still
	// requested.
	good := api.ReceiverResource{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "good"}}
	for name, res := range map[string]api.ReceiverResource{
		"apiVersion must be specified for kind \"Kustomization\"":   {CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "x"}},
		"matchLabels field not set when using wildcard '*' as name": {CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "*"}},
	} {
		rcv.Spec.Resources = []api.ReceiverResource{res, good}
		reqs, err := Requests(context.Background(), rcv, &Request{}, Result{}, now)
		if err == nil || err.Error() != name || len(reqs) != 1 || reqs[0].Name != "good" {
			t.Errorf("Requests() = %+v, %v; want the good resource and %q", reqs, err, name)
		}
	}
}

func FuzzVerifyGitHub(f *testing.F) {
	f.Add("application/json", "push", "sha256=00", []byte(pushBody))
	f.Add("application/x-www-form-urlencoded", "ping", "sha1=zz", []byte("payload=%7B%7D"))
	rcv := receiverOf("github", "push")
	secret := map[string][]byte{"token": []byte("k")}
	f.Fuzz(func(t *testing.T, contentType, event, signature string, body []byte) {
		_, err := new(Verifier).Verify(context.Background(), rcv, secret, &Request{Header: http.Header{
			"Content-Type": {contentType}, "X-Github-Event": {event}, "X-Hub-Signature-256": {signature}}, Body: body})
		var e *Error
		if err != nil && (!errors.As(err, &e) || e.Status != http.StatusBadRequest) {
			t.Fatalf("Verify() = %v, want nil or a 400", err)
		}
	})
}
