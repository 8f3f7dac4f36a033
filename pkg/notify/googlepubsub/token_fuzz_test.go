package googlepubsub_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/googlepubsub"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// roundTrip answers every request in process, with no network.
type roundTrip func(*http.Request) *http.Response

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r), nil }

// FuzzTokenReply answers the token request with arbitrary statuses,
// content types and bodies, in which "$ASSERTION" stands for the signed
// JWT of the request, so that a reply may echo it, and the publish call
// with a 200. A failed fetch carries the token endpoint's status and is
// retried as the shared table says; no error holds the assertion or the
// private key, and a success published with a bearer token.
func FuzzTokenReply(f *testing.F) {
	const jsonType = "application/json"
	f.Add(200, jsonType, `{"access_token":"ya29.a","expires_in":3599,"token_type":"Bearer"}`)
	f.Add(200, jsonType, `{"access_token":"","expires_in":3599}`)
	f.Add(200, jsonType, `{"access_token":5}`)
	f.Add(200, jsonType, `{"access_token":"a","expires_in":"soon"}`)
	f.Add(200, "application/x-www-form-urlencoded", `access_token=a&expires_in=10`)
	f.Add(200, "text/plain", `not a token`)
	f.Add(400, jsonType, `{"error":"invalid_grant","error_description":"Invalid JWT Signature.","echo":"assertion=$ASSERTION"}`)
	f.Add(400, jsonType, `{"error":"$ASSERTION"}`)
	f.Add(401, jsonType, `{"error":"invalid_client","error_description":"$ASSERTION"}`)
	f.Add(403, jsonType, `{"error":"access_denied","error_description":"Account disabled"}`)
	f.Add(429, jsonType, `{"error":"rate_limit_exceeded"}`)
	f.Add(503, "text/html", `Service Unavailable`)
	f.Add(500, jsonType, `{"error":"`+strings.Repeat("x", 300)+`"}`)
	creds := credentials("https://oauth2.example/token")
	keyLine := strings.Split(privateKeyPEM(), "\n")[1][:16] // of the key's base64
	f.Fuzz(func(t *testing.T, status int, contentType, reply string) {
		if status < 100 || status > 999 {
			return // net/http refuses such a status line
		}
		var assertion string
		var bearer string
		client := &http.Client{Transport: roundTrip(func(r *http.Request) *http.Response {
			if r.URL.Host == "oauth2.example" {
				if err := r.ParseForm(); err == nil {
					assertion = r.PostForm.Get("assertion")
				}
				return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {contentType}},
					Body: io.NopCloser(strings.NewReader(strings.ReplaceAll(reply, "$ASSERTION", assertion))), Request: r}
			}
			bearer = r.Header.Get("Authorization")
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(`{"messageIds":["1"]}`)), Request: r}
		})}
		n, err := googlepubsub.New(notify.Config{Address: project, Channel: topic, Token: notify.Secret(creds), HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		n.Endpoint = "https://pubsub.example"
		retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if assertion == "" {
			t.Fatal("no token request was made")
		}
		if err == nil {
			if !strings.HasPrefix(bearer, "Bearer ") || len(bearer) == len("Bearer ") {
				t.Fatalf("published with Authorization %q", bearer)
			}
			return
		}
		msg := err.Error()
		if strings.Contains(msg, assertion) || strings.Contains(msg, assertion[len(assertion)-20:]) {
			t.Fatalf("the error holds the assertion: %s", msg)
		}
		if strings.Contains(msg, keyLine) {
			t.Fatalf("the error holds the private key: %s", msg)
		}
		if !utf8.ValidString(msg) || len(msg) > 1024 {
			t.Fatalf("error of %d bytes: %q", len(msg), msg)
		}
		var e *notify.Error
		if !errors.As(err, &e) {
			t.Fatalf("%T %v", err, err)
		}
		if status < 200 || status > 299 {
			if e.StatusCode != status || retry != notify.RetryableStatus(status) {
				t.Fatalf("status %d: %+v, retry %v", status, e, retry)
			}
		}
	})
}

// FuzzCredentials reads arbitrary secret tokens as service-account key
// files, with "$KEY" standing for a real private key: New either accepts
// them or says which field is wrong, never quoting the token.
func FuzzCredentials(f *testing.F) {
	f.Add(`{"type":"service_account","client_email":"a@b","private_key":"$KEY"}`)
	f.Add(`{"type":"service_account","client_email":"a@b","private_key":"$KEY","token_uri":"s3cr3t/token"}`)
	f.Add(`{"type":"service_account","client_email":"a@b","private_key":"s3cr3t-not-a-key"}`)
	f.Add(`{"type":"authorized_user","refresh_token":"s3cr3t"}`)
	f.Add(`{"type":"service_account","client_email":"a@b","private_key":"$KEY`)
	f.Add(`s3cr3t-not-json`)
	f.Add(credentials(""))
	quotedKey, err := json.Marshal(privateKeyPEM())
	if err != nil {
		f.Fatal(err)
	}
	keyJSON := strings.Trim(string(quotedKey), `"`)
	keyLine := strings.Split(privateKeyPEM(), "\n")[1][:16]
	f.Fuzz(func(t *testing.T, token string) {
		token = strings.ReplaceAll(token, "$KEY", keyJSON)
		if token == "" {
			return // no credentials at all: New says so
		}
		_, err := googlepubsub.New(notify.Config{Address: project, Channel: topic, Token: notify.Secret(token)})
		if err == nil {
			return
		}
		const invalid = "googlepubsub: invalid GCP credentials in the secret's token: "
		if msg := err.Error(); !strings.HasPrefix(msg, invalid) || strings.Contains(msg, "s3cr3t") || strings.Contains(msg, keyLine) {
			t.Fatalf("New: %v", err)
		}
	})
}
