package receiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/api"
)

// fuzzToken is the receivers' token in the fuzz targets: no error may
// quote it. The targets keep it non-empty: with an empty token go-github
// skips the signature check and GitLab's comparison matches a missing
// header, as in Flux, so the webhook path is then the only credential.
const fuzzToken = "s3cr3t-fuzz-token-9f2c"

func fuzzEvents(list string) []string {
	if list == "" {
		return nil
	}
	return strings.Split(list, ",")
}

func allowed(events []string, eventType string) bool {
	if len(events) == 0 {
		return true
	}
	for _, e := range events {
		if strings.EqualFold(e, eventType) {
			return true
		}
	}
	return false
}

// checkRefusal fails unless err is a 400 that does not quote the token.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest {
		t.Fatalf("Verify() = %v, want nil or a 400", err)
	}
	if strings.Contains(err.Error(), fuzzToken) {
		t.Fatalf("the error quotes the token: %v", err)
	}
}

// FuzzVerifyGitHubSigned signs every body with the token, so that the
// fuzzer reaches go-github's payload parsing behind the signature check.
// An accepted call names an allowed event, and the same signature on any
// other body is refused.
func FuzzVerifyGitHubSigned(f *testing.F) {
	form := "payload=" + url.QueryEscape(pushBody)
	f.Add("application/json", "push", "push", false, []byte(pushBody))
	f.Add("application/json", "push", "PUSH", true, []byte(pushBody))
	f.Add("application/x-www-form-urlencoded", "push", "", false, []byte(form))
	f.Add("application/json", "ping", "", false, []byte(`{"zen":"x"}`))
	f.Add("application/json", "ping", "push", false, []byte(`{"zen":"x"}`))
	f.Add("application/json", "push", "", false, []byte("{"))
	f.Add("application/json", "pull_request", "", false, []byte(`{"action":"opened","number":1,"pull_request":{"head":{"sha":"a"}}}`))
	f.Add("application/json", "release", "release,push", false, []byte(`{"release":{"tag_name":[1]}}`))
	f.Add("application/x-www-form-urlencoded", "push", "", true, []byte("payload=%zz"))
	f.Add("text/plain", "push", "", false, []byte(pushBody))
	secret := map[string][]byte{"token": []byte(fuzzToken)}
	f.Fuzz(func(t *testing.T, contentType, eventType, events string, sha1Sig bool, body []byte) {
		rcv := receiverOf("github", fuzzEvents(events)...)
		header := func(b []byte) http.Header {
			h := http.Header{"Content-Type": {contentType}, "X-Github-Event": {eventType}}
			if sha1Sig {
				h.Set("X-Hub-Signature", "sha1="+hmacHex(sha1.New, fuzzToken, string(b)))
			} else {
				h.Set("X-Hub-Signature-256", "sha256="+hmacHex(sha256.New, fuzzToken, string(b)))
			}
			return h
		}
		_, err := new(Verifier).Verify(context.Background(), rcv, secret, &Request{Header: header(body), Body: body})
		if err != nil {
			checkRefusal(t, err)
		} else if !allowed(rcv.Spec.Events, eventType) {
			t.Fatalf("accepted event %q, not in %q", eventType, rcv.Spec.Events)
		}

		// The signature of body does not sign another body.
		other := append(bytes.Clone(body), '\n')
		_, err = new(Verifier).Verify(context.Background(), rcv, secret, &Request{Header: header(body), Body: other})
		if err == nil {
			t.Fatal("accepted a body the signature was not computed over")
		}
		checkRefusal(t, err)
	})
}

var hmacHashes = map[string]func() hash.Hash{"sha1": sha1.New, "sha256": sha256.New, "sha512": sha512.New}

// FuzzVerifyGenericHMAC checks X-Signature against the body: a signature
// computed over the body with a supported algorithm is accepted, one over
// another body is not, and an arbitrary header is accepted only if it
// holds the body's HMAC.
func FuzzVerifyGenericHMAC(f *testing.F) {
	f.Add("sha256", []byte("b"), []byte("c"), "sha256="+hmacHex(sha256.New, fuzzToken, "b"))
	f.Add("sha1", []byte(pushBody), []byte(""), "sha1=00")
	f.Add("sha512", []byte{}, []byte{0}, "sha512=")
	f.Add("md5", []byte("b"), []byte("b"), "md5=aa")
	f.Add("SHA256", []byte("b"), []byte("b"), "sha256=ZZ")
	f.Add("sha256", []byte("b"), []byte("b"), "no equals sign")
	secret := map[string][]byte{"token": []byte(fuzzToken)}
	rcv := receiverOf("generic-hmac")
	f.Fuzz(func(t *testing.T, alg string, body, other []byte, raw string) {
		verify := func(sig string, b []byte) error {
			_, err := new(Verifier).Verify(context.Background(), rcv, secret, &Request{Header: http.Header{"X-Signature": {sig}}, Body: b})
			return err
		}
		if newHash, ok := hmacHashes[alg]; ok {
			sig := alg + "=" + hmacHex(newHash, fuzzToken, string(body))
			if err := verify(sig, body); err != nil {
				t.Fatalf("a valid %s signature was refused: %v", alg, err)
			}
			if !bytes.Equal(body, other) {
				err := verify(sig, other)
				if err == nil {
					t.Fatal("accepted a body the signature was not computed over")
				}
				checkRefusal(t, err)
			}
		}

		err := verify(raw, body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		// Accepted: the header must hold the body's HMAC.
		name, sig, _ := strings.Cut(raw, "=")
		want, _ := hex.DecodeString(sig)
		newHash, ok := hmacHashes[name]
		if !ok {
			t.Fatalf("accepted algorithm %q", name)
		}
		mac := hmac.New(newHash, []byte(fuzzToken))
		mac.Write(body)
		if !hmac.Equal(mac.Sum(nil), want) {
			t.Fatalf("accepted %q, which is not the body's HMAC", raw)
		}
	})
}

// FuzzVerifyGitLab accepts a call only with the token in X-Gitlab-Token
// and an allowed event.
func FuzzVerifyGitLab(f *testing.F) {
	f.Add(fuzzToken, "Push Hook", "Push Hook")
	f.Add(fuzzToken, "Tag Push Hook", "push hook")
	f.Add(fuzzToken+" ", "Push Hook", "")
	f.Add("", "", "")
	secret := map[string][]byte{"token": []byte(fuzzToken)}
	f.Fuzz(func(t *testing.T, token, eventType, events string) {
		rcv := receiverOf("gitlab", fuzzEvents(events)...)
		_, err := new(Verifier).Verify(context.Background(), rcv, secret, &Request{Header: http.Header{"X-Gitlab-Token": {token}, "X-Gitlab-Event": {eventType}}})
		want := token == fuzzToken && allowed(rcv.Spec.Events, eventType)
		if (err == nil) != want {
			t.Fatalf("Verify(token %q, event %q, events %q) = %v", token, eventType, events, err)
		}
		if err != nil {
			checkRefusal(t, err)
		}
	})
}

// FuzzRequests turns a Receiver's resources into reconcile requests: each
// resource gives one request with an apiVersion, the Receiver's namespace
// by default and labels only for "*", and every request survives the JSON
// the poll answers with.
func FuzzRequests(f *testing.F) {
	f.Add("GitRepository", "", "podinfo", "", "", "", "", "flux-system")
	f.Add("OCIRepository", "", "*", "apps", "team", "a", "", "flux-system")
	f.Add("Kustomization", "kustomize.toolkit.fluxcd.io/v1", "apps", "", "", "", "", "")
	f.Add("Kustomization", "", "x", "", "", "", "", "flux-system")
	f.Add("GitRepository", "", "*", "", "", "", "", "ns")
	f.Add("GitRepository", "", "x", "", "", "", "true", "ns")
	f.Add("Bucket", "", "*", "", "", "", "", "\xff")
	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, apiVersion, name, namespace, labelKey, labelValue, filter, rcvNamespace string) {
		rcv := receiverOf("generic")
		rcv.Metadata.Namespace = rcvNamespace
		res := api.ReceiverResource{
			CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: namespace},
			Filter:                        filter,
		}
		if labelKey != "" {
			res.MatchLabels = map[string]string{labelKey: labelValue}
		}
		rcv.Spec.Resources = []api.ReceiverResource{res, res}
		valid := (apiVersion != "" || defaultAPIVersions[kind] != "") && (name != "*" || labelKey != "")
		// The filters have their own fuzz tests (resourcefilter); here
		// only one that selects every object is kept.
		if filter != "" && filter != "true" {
			t.Skip()
		}
		reqs, err := Requests(context.Background(), rcv, &Request{}, Result{}, now)
		if err != nil {
			if valid || len(reqs) != 0 {
				t.Fatalf("Requests(%+v) = %d requests and %v", res, len(reqs), err)
			}
			return
		}
		if !valid || len(reqs) != 2 {
			t.Fatalf("Requests(%+v) = %+v", res, reqs)
		}
		wantNS := namespace
		if wantNS == "" {
			wantNS = rcvNamespace
		}
		for _, r := range reqs {
			if r.APIVersion == "" || apiVersion != "" && r.APIVersion != apiVersion || r.Kind != kind || r.Name != name ||
				r.Namespace != wantNS || r.Receiver != rcvNamespace+"/r" || !r.RequestedAt.Equal(now) ||
				(name == "*") != (r.MatchLabels != nil) {
				t.Fatalf("request %+v for resource %+v", r, res)
			}
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back ReconcileRequest
			if err := json.Unmarshal(data, &back); err != nil {
				t.Fatalf("%s does not decode: %v", data, err)
			}
			if !reflect.DeepEqual(back, r) && validUTF8(r.APIVersion, r.Kind, r.Namespace, r.Name, r.Receiver, labelKey, labelValue) {
				t.Fatalf("JSON round trip: %+v became %+v", r, back)
			}
		}
	})
}

// validUTF8 reports whether every string is valid UTF-8, which JSON needs
// to carry it unchanged.
func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
