package receiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
)

// fuzzSample reads a testdata payload for a fuzz seed.
func fuzzSample(f *testing.F, name string) []byte {
	f.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// verifyTwice verifies the same call twice and fails unless both calls
// end alike: accepted with the same filter body, or refused with the same
// 400 that does not quote the token. Only the first line of the messages
// is compared: the JSON schema library lists the failed locations below
// it in no fixed order. It returns the first outcome.
func verifyTwice(t *testing.T, rcv *api.Receiver, header http.Header, body []byte) (Result, error) {
	t.Helper()
	secret := map[string][]byte{"token": []byte(fuzzToken)}
	call := func() (Result, error) {
		return webhookVerifier().Verify(context.Background(), rcv, secret, &Request{Header: header.Clone(), Body: bytes.Clone(body)})
	}
	res, err := call()
	again, err2 := call()
	if (err == nil) != (err2 == nil) || err != nil && firstLine(err) != firstLine(err2) || !bytes.Equal(res.Body, again.Body) {
		t.Fatalf("the same call ended as %v (%q), then as %v (%q)", err, res.Body, err2, again.Body)
	}
	if err != nil {
		checkRefusal(t, err)
	}
	return res, err
}

func firstLine(err error) string {
	line, _, _ := strings.Cut(err.Error(), "\n")
	return line
}

// FuzzVerifyBitbucketSigned signs every body with the token, as Bitbucket
// does, so that the fuzzer gets past the signature to the Content-Type,
// form and event checks. An accepted call names an allowed event and hands
// the filters the JSON body or the form's payload field; the signature of
// one body does not sign another.
func FuzzVerifyBitbucketSigned(f *testing.F) {
	push := fuzzSample(f, "bitbucket-repo-push.json")
	f.Add("application/json", "repo:push", "repo:push", false, push)
	f.Add("application/json", "repo:push", "REPO:PUSH,pullrequest:created", true, push)
	f.Add("application/x-www-form-urlencoded", "repo:push", "", false, []byte("payload="+url.QueryEscape(string(push))))
	f.Add("application/x-www-form-urlencoded", "repo:push", "", false, []byte("payload=%zz"))
	f.Add("application/json; charset=utf-8", "pullrequest:created", "repo:push", false, []byte(`{}`))
	f.Add("text/plain", "repo:push", "", false, push)
	f.Add("", "", "", true, []byte{})
	f.Fuzz(func(t *testing.T, contentType, eventType, events string, sha1Sig bool, body []byte) {
		rcv := receiverOf("bitbucket", fuzzEvents(events)...)
		header := func(b []byte) http.Header {
			h := http.Header{"Content-Type": {contentType}, "X-Event-Key": {eventType}}
			if sha1Sig {
				h.Set("X-Hub-Signature", "sha1="+hmacHex(sha1.New, fuzzToken, string(b)))
			} else {
				h.Set("X-Hub-Signature", "sha256="+hmacHex(sha256.New, fuzzToken, string(b)))
			}
			return h
		}
		res, err := verifyTwice(t, rcv, header(body), body)
		if err == nil {
			if !allowed(rcv.Spec.Events, eventType) {
				t.Fatalf("accepted event %q, not in %q", eventType, rcv.Spec.Events)
			}
			mediaType, _, _ := mime.ParseMediaType(contentType)
			switch mediaType {
			case "application/json":
				if !bytes.Equal(res.Body, body) {
					t.Fatalf("JSON call: filters see %q, want the body", res.Body)
				}
			case "application/x-www-form-urlencoded":
				form, _ := url.ParseQuery(string(body))
				if string(res.Body) != form.Get("payload") {
					t.Fatalf("form call: filters see %q, want the payload field", res.Body)
				}
			default:
				t.Fatalf("accepted Content-Type %q", contentType)
			}
		}

		other := append(bytes.Clone(body), '\n')
		_, err = new(Verifier).Verify(context.Background(), rcv, map[string][]byte{"token": []byte(fuzzToken)}, &Request{Header: header(body), Body: other})
		if err == nil {
			t.Fatal("accepted a body the signature was not computed over")
		}
		checkRefusal(t, err)
	})
}

// FuzzVerifyHarbor accepts a call only with the token, exactly, in
// Authorization, whatever the body.
func FuzzVerifyHarbor(f *testing.F) {
	push := fuzzSample(f, "harbor-push-artifact.json")
	f.Add(fuzzToken, push)
	f.Add("Bearer "+fuzzToken, push)
	f.Add(fuzzToken+"\x00", []byte("{"))
	f.Add("", []byte{})
	f.Fuzz(func(t *testing.T, authorization string, body []byte) {
		res, err := verifyTwice(t, receiverOf("harbor"), http.Header{"Authorization": {authorization}}, body)
		if (err == nil) != (authorization == fuzzToken) {
			t.Fatalf("Authorization %q: %v", authorization, err)
		}
		if err == nil && !bytes.Equal(res.Body, body) {
			t.Fatalf("filters see %q, want the body", res.Body)
		}
	})
}

// FuzzVerifyNexus signs every body with the token as Nexus does (lowercase
// hex HMAC-SHA1): such a call is accepted exactly when the body decodes as
// JSON, and the same signature on another body is refused. An arbitrary
// header is accepted only if it is that signature.
func FuzzVerifyNexus(f *testing.F) {
	created := fuzzSample(f, "nexus-component-created.json")
	f.Add(created, "")
	f.Add(created, hmacHex(sha1.New, fuzzToken, string(created)))
	f.Add([]byte(`{"action":1}`), "00")
	f.Add([]byte(`{"action":"CREATED"} x`), "")
	f.Add([]byte("null"), "sha1=00")
	f.Fuzz(func(t *testing.T, body []byte, raw string) {
		rcv := receiverOf("nexus")
		sig := hmacHex(sha1.New, fuzzToken, string(body))
		res, err := verifyTwice(t, rcv, http.Header{"X-Nexus-Webhook-Signature": {sig}}, body)
		if err == nil && !bytes.Equal(res.Body, body) {
			t.Fatalf("filters see %q, want the body", res.Body)
		}
		if err == nil && !json.Valid(body) {
			t.Fatalf("accepted a body that is not JSON: %q", body)
		}
		var generic map[string]any
		if err != nil && json.Unmarshal(body, &generic) == nil {
			// A JSON object is refused only for a field of the wrong type;
			// encoding/json, like Flux's decoding, matches names without case.
			wrongType := false
			for k, v := range generic {
				if strings.EqualFold(k, "action") || strings.EqualFold(k, "repositoryName") {
					if _, ok := v.(string); !ok && v != nil {
						wrongType = true
					}
				}
			}
			if !wrongType {
				t.Fatalf("refused a signed JSON object with string fields: %v", err)
			}
		}

		_, err = verifyTwice(t, rcv, http.Header{"X-Nexus-Webhook-Signature": {sig}}, append(bytes.Clone(body), ' '))
		if err == nil {
			t.Fatal("accepted a body the signature was not computed over")
		}

		if _, err := verifyTwice(t, rcv, http.Header{"X-Nexus-Webhook-Signature": {raw}}, body); err == nil {
			mac := hmac.New(sha1.New, []byte(fuzzToken))
			mac.Write(body)
			if raw != hex.EncodeToString(mac.Sum(nil)) {
				t.Fatalf("accepted signature %q, not the body's", raw)
			}
		}
	})
}

// fuzzUnsigned drives an unsigned registry type: an accepted body starts
// with a JSON value (what follows it is ignored, as in Flux) and reaches
// the filters unchanged, and every outcome repeats.
func fuzzUnsigned(f *testing.F, typ string, seeds ...[]byte) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte("null"))
	f.Add([]byte(`{} trailing`))
	f.Add([]byte(`[1]`))
	f.Add([]byte("\xff"))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := verifyTwice(t, receiverOf(typ), http.Header{}, body)
		if err != nil {
			return
		}
		if !bytes.Equal(res.Body, body) {
			t.Fatalf("filters see %q, want the body", res.Body)
		}
		var first json.RawMessage
		if json.NewDecoder(bytes.NewReader(body)).Decode(&first) != nil {
			t.Fatalf("accepted %q, which does not start with a JSON value", body)
		}
	})
}

func FuzzVerifyDockerHub(f *testing.F) {
	fuzzUnsigned(f, "dockerhub", fuzzSample(f, "dockerhub-push.json"), []byte(`{"push_data":{"tag":1}}`), []byte(`{"repository":{"repo_url":null}}`))
}

func FuzzVerifyQuay(f *testing.F) {
	fuzzUnsigned(f, "quay", fuzzSample(f, "quay-repository-push.json"), []byte(`{"updated_tags":"latest"}`), []byte(`{"updated_tags":[null,"a"]}`))
}

func FuzzVerifyACR(f *testing.F) {
	fuzzUnsigned(f, "acr", fuzzSample(f, "acr-push.json"), []byte(`{"target":{"tag":1}}`), []byte(`{"action":"push","target":[]}`))
}

// FuzzVerifyCDEvents feeds bodies and Ce-Type headers to the CDEvents
// check. Nothing panics, an accepted call is JSON with an allowed Ce-Type,
// and each body is judged alike before and after valid events of other
// types were verified (the SDK's parser, which Flux calls, keeps state
// between calls; package cdevents compiles schemas on first use).
func FuzzVerifyCDEvents(f *testing.F) {
	published := fuzzSample(f, "cdevents-artifact-published.json")
	merged := fuzzSample(f, "cdevents-change-merged.json")
	f.Add(published, "dev.cdevents.artifact.published.0.2.0", "dev.cdevents.artifact.published.0.2.0")
	f.Add(merged, "dev.cdevents.change.merged.0.2.0", "")
	f.Add([]byte(fluxChangeMerged), "cd.change.merged.v1", "cd.environment.modified.v1")
	f.Add([]byte(`{"context":{"version":"0.4.1","type":"dev.cdevents.change.merged.0.2.0"},"subject":{}}`), "", "")
	f.Add([]byte(`{"context":{"type":"dev.cdevents.myorg.custom.thing.0.1.0"}}`), "", "")
	f.Add([]byte(`{"context":{"type":"dev.cdevents.change.merged.0.2.0","schemaUri":"https://example.org/s"},"subject":{"content":{"repository":7}}}`), "", "")
	f.Add([]byte(`{"context":{"type":"dev.cdevents.pipelinerun.finished.0.2.0"},"customData":"x","customDataContentType":"text/plain"}`), "", "")
	f.Fuzz(func(t *testing.T, body []byte, ceType, events string) {
		rcv := receiverOf("cdevents", fuzzEvents(events)...)
		header := http.Header{"Ce-Type": {ceType}}
		res, err := verifyTwice(t, rcv, header, body)
		if err == nil {
			if !allowed(rcv.Spec.Events, ceType) {
				t.Fatalf("accepted Ce-Type %q, not in %q", ceType, rcv.Spec.Events)
			}
			if !json.Valid(body) || !bytes.Equal(res.Body, body) {
				t.Fatalf("accepted %q, filters see %q", body, res.Body)
			}
		}
		for _, valid := range [][]byte{published, merged} {
			if _, err := verifyTwice(t, receiverOf("cdevents"), http.Header{}, valid); err != nil {
				t.Fatalf("a valid event was refused: %v", err)
			}
			_, after := verifyTwice(t, rcv, header, body)
			if (err == nil) != (after == nil) {
				t.Fatalf("judged %v, then %v after another event", err, after)
			}
		}
	})
}
