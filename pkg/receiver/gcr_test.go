package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/receiver/receivertest"
)

const (
	gcrEmail     = "gcr-push@my-project.iam.gserviceaccount.com"
	gcrAudience  = "https://herald.example.com/hook/gcr"
	gcrHookToken = "gcr-hook-token-4f1d2b"
	// The event Artifact Registry publishes for a pushed tag.
	gcrEventJSON = `{"action":"INSERT","digest":"us-east1-docker.pkg.dev/my-project/apps/podinfo@sha256:6a2c1b0b6e1f0a64c1d5d0e6a3b0c6d1f3a1e0b9c8d7e6f5a4b3c2d1e0f9a8b7","tag":"us-east1-docker.pkg.dev/my-project/apps/podinfo:6.7.0"}`
)

func gcrSecret() map[string][]byte {
	return map[string][]byte{"token": []byte(gcrHookToken), "email": []byte(gcrEmail), "audience": []byte(gcrAudience)}
}

// pushEnvelope wraps data as a Pub/Sub push subscription delivers it.
func pushEnvelope(t testing.TB, data string) []byte {
	return envelopeWithData(t, base64.StdEncoding.EncodeToString([]byte(data)))
}

func envelopeWithData(t testing.TB, encoded string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"message": map[string]any{
			"attributes":  map[string]string{"origin": "artifact-registry"},
			"data":        encoded,
			"messageId":   "13517203719217474",
			"publishTime": "2026-11-22T03:00:16.218Z",
		},
		"subscription": "projects/my-project/subscriptions/herald-gcr",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestGCR(t *testing.T) {
	google := receivertest.NewIssuer(t) // Google's key set, served locally
	stranger := receivertest.NewKey(t)
	claims := receivertest.GoogleClaims("https://accounts.google.com", gcrEmail, gcrAudience)
	body := pushEnvelope(t, gcrEventJSON)
	tests := []struct {
		name   string
		secret map[string][]byte
		header http.Header
		body   []byte
		msg    string // "": accepted
	}{
		{name: "valid push", header: bearer(google.Sign(t, claims))},
		{name: "valid push, issuer without scheme", header: bearer(google.Sign(t, with(claims, "iss", "accounts.google.com")))},
		{name: "other issuer", header: bearer(google.Sign(t, with(claims, "iss", "https://evil.example.com"))),
			msg: "cannot authenticate GCR request: token issuer is 'https://evil.example.com', want 'accounts.google.com' or 'https://accounts.google.com'"},
		{name: "wrong email", header: bearer(google.Sign(t, with(claims, "email", "intruder@evil.example.com"))),
			msg: "token email is 'intruder@evil.example.com', want '" + gcrEmail + "'"},
		{name: "no email", header: bearer(google.Sign(t, with(claims, "email", nil))), msg: "token email is '', want"},
		{name: "email not verified", header: bearer(google.Sign(t, with(claims, "email_verified", false))),
			msg: "token email '" + gcrEmail + "' is not verified"},
		{name: "email_verified as a string", header: bearer(google.Sign(t, with(claims, "email_verified", "true"))), msg: "is not verified"},
		{name: "email_verified missing", header: bearer(google.Sign(t, with(claims, "email_verified", nil))), msg: "is not verified"},
		{name: "wrong audience", header: bearer(google.Sign(t, with(claims, "aud", "https://other.example.com"))),
			msg: "cannot authenticate GCR request: invalid ID token: audience is 'https://other.example.com', want '" + gcrAudience + "'"},
		{name: "expired", header: bearer(google.Sign(t, with(claims, "exp", time.Now().Add(-time.Second).Unix()))), msg: "token is expired"},
		{name: "not signed by Google", header: bearer(stranger.Sign(t, claims)), msg: "failed to verify signature"},
		{name: "no Authorization header", header: http.Header{}, msg: "cannot authenticate GCR request: the Authorization header is missing or malformed"},
		{name: "not a JWT", header: bearer("ya29.opaque"), msg: "invalid ID token: audience is '<unknown>'"},
		{name: "no email in the secret", secret: map[string][]byte{"token": []byte(gcrHookToken), "audience": []byte(gcrAudience)},
			header: bearer(google.Sign(t, claims)), msg: "invalid secret data: required field 'email' for GCR receiver"},
		{name: "no audience in the secret", secret: map[string][]byte{"token": []byte(gcrHookToken), "email": []byte(gcrEmail)},
			header: bearer(google.Sign(t, claims)), msg: "invalid secret data: required field 'audience' for GCR receiver"},
		{name: "no token in the secret", secret: map[string][]byte{"email": []byte(gcrEmail), "audience": []byte(gcrAudience)},
			header: bearer(google.Sign(t, claims)), msg: `invalid "flux-system/webhook-token" secret data: required field 'token'`},
		{name: "envelope not JSON", header: bearer(google.Sign(t, claims)), body: []byte("message=1"), msg: "cannot decode GCR webhook payload"},
		{name: "envelope with a bad publishTime", header: bearer(google.Sign(t, claims)), body: []byte(`{"message":{"publishTime":"yesterday"}}`),
			msg: "cannot decode GCR webhook payload"},
		{name: "data not base64", header: bearer(google.Sign(t, claims)), body: envelopeWithData(t, "not base64!"),
			msg: "cannot decode GCR webhook body: message.data is not base64"},
		{name: "data not JSON", header: bearer(google.Sign(t, claims)), body: pushEnvelope(t, "INSERT podinfo:6.7.0"),
			msg: "cannot decode GCR webhook body: invalid character"},
		{name: "no data", header: bearer(google.Sign(t, claims)), body: []byte(`{"message":{}}`), msg: "cannot decode GCR webhook body"},
	}
	v := &Verifier{GoogleJWKSURL: google.JWKSURL()}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			secret, b := tc.secret, tc.body
			if secret == nil {
				secret = gcrSecret()
			}
			if b == nil {
				b = body
			}
			res, err := v.Verify(context.Background(), receiverOf("gcr"), secret, &Request{Header: tc.header, Body: b})
			token, _ := strings.CutPrefix(tc.header.Get("Authorization"), "Bearer ")
			if tc.msg != "" {
				refused(t, err, tc.msg, token, gcrHookToken)
				return
			}
			if err != nil {
				t.Fatalf("Verify() = %v, want accepted", err)
			}
			// The filters see the event inside the envelope, as Flux
			// re-encodes it.
			if string(res.Body) != gcrEventJSON || res.Claims != nil {
				t.Errorf("Result = %s, %v; want the inner event and no claims", res.Body, res.Claims)
			}
		})
	}
}

// TestGCRInnerEventReencoded: fields beyond action, digest and tag do not
// reach the filters, as in Flux.
func TestGCRInnerEventReencoded(t *testing.T) {
	google := receivertest.NewIssuer(t)
	v := &Verifier{GoogleJWKSURL: google.JWKSURL()}
	token := google.Sign(t, receivertest.GoogleClaims("accounts.google.com", gcrEmail, gcrAudience))
	res, err := v.Verify(context.Background(), receiverOf("gcr"), gcrSecret(), &Request{Header: bearer(token),
		Body: pushEnvelope(t, `{"tag":"r/app:1","extra":{"x":1},"action":"DELETE"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if string(res.Body) != `{"action":"DELETE","digest":"","tag":"r/app:1"}` {
		t.Fatalf("Result.Body = %s", res.Body)
	}
}

func TestVerifierFromEnv(t *testing.T) {
	t.Setenv(GoogleJWKSURLEnv, "")
	if v, err := VerifierFromEnv(); err != nil || v.GoogleJWKSURL != "" {
		t.Fatalf("unset: %+v, %v", v, err)
	}
	t.Setenv(GoogleJWKSURLEnv, "http://127.0.0.1:8080/keys")
	if v, err := VerifierFromEnv(); err != nil || v.GoogleJWKSURL != "http://127.0.0.1:8080/keys" {
		t.Fatalf("set: %+v, %v", v, err)
	}
	for _, bad := range []string{"file:///etc/keys.json", "127.0.0.1:8080/keys", "https://"} {
		t.Setenv(GoogleJWKSURLEnv, bad)
		if _, err := VerifierFromEnv(); err == nil || !strings.Contains(err.Error(), GoogleJWKSURLEnv+" must be an http or https URL") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
