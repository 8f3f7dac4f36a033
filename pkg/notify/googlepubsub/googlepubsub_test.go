package googlepubsub_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/googlepubsub"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is the generic provider's body of the behaviour reference
// §4.2, which Pub/Sub carries as the message data.
const referenceBody = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

// newNotifier builds a notifier for cfg, with the project, topic and
// credentials of f where cfg has none, publishing to f.
func newNotifier(t *testing.T, f *fakeGCP, cfg notify.Config) *googlepubsub.Notifier {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = project
	}
	if cfg.Channel == "" {
		cfg.Channel = topic
	}
	if cfg.Token == "" {
		cfg.Token = notify.Secret(f.credentials())
	}
	n, err := googlepubsub.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n.Endpoint = f.URL
	return n
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		channel  string
		headers  map[string]notify.Secret
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
		// Headers become attributes, keys sorted, values HTML-escaped as
		// encoding/json does in Flux's SDK request too.
		{name: "attributes", severity: event.SeverityInfo, metadata: true, headers: map[string]notify.Secret{"team": "platform", "env": "prod", "note": "a<b&c"}},
		// The topic is one path segment, so '/' and ' ' are escaped.
		{name: "escaped-topic", severity: event.SeverityInfo, metadata: true, channel: "flux events/prod"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGCP(t, nil)
			n := newNotifier(t, f, notify.Config{Channel: tc.channel, Headers: tc.headers})
			ev := notifytest.ReferenceEvent(tc.severity, tc.metadata)
			if _, err := n.Notify(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			reqs := f.publishes()
			if len(reqs) != 1 {
				t.Fatalf("%d publish requests", len(reqs))
			}
			req := reqs[0]
			notifytest.AssertGolden(t, tc.name, req)

			if got := req.Header.Get("Authorization"); got != "Bearer "+accessToken {
				t.Errorf("Authorization = %q", got)
			}
			var body struct {
				Messages []struct {
					Data       string            `json:"data"`
					Attributes map[string]string `json:"attributes"`
				} `json:"messages"`
			}
			if err := json.Unmarshal(req.Body, &body); err != nil || len(body.Messages) != 1 {
				t.Fatalf("body %s: %v", req.Body, err)
			}
			m := body.Messages[0]
			data, err := base64.StdEncoding.DecodeString(m.Data)
			if err != nil {
				t.Fatalf("data is not standard base64: %v", err)
			}
			if want, _ := json.Marshal(ev); string(data) != string(want) {
				t.Errorf("data:\n got %s\nwant %s", data, want)
			}
			want := map[string]string{}
			for k, v := range tc.headers {
				want[k] = v.Reveal()
			}
			if !maps.Equal(m.Attributes, want) {
				t.Errorf("attributes = %v, want %v", m.Attributes, want)
			}
		})
	}
}

// The request of §4.2's example, spelt out rather than recorded.
func TestReferenceRequest(t *testing.T) {
	f := newFakeGCP(t, nil)
	n := newNotifier(t, f, notify.Config{})
	if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
		t.Fatal(err)
	}
	req := f.publishes()[0]
	if req.Method != http.MethodPost || req.URI != "/v1/projects/my-project/topics/flux-events:publish" {
		t.Errorf("request %s %s", req.Method, req.URI)
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	want := `{"messages":[{"data":"` + base64.StdEncoding.EncodeToString([]byte(referenceBody)) + `"}]}`
	if string(req.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", req.Body, want)
	}
}

func TestDefaultEndpoint(t *testing.T) {
	n, err := googlepubsub.New(notify.Config{Address: project, Channel: topic, Token: notify.Secret(credentials(""))})
	if err != nil {
		t.Fatal(err)
	}
	if got := n.Endpoint; got != "https://pubsub.googleapis.com" {
		t.Errorf("Endpoint = %s", got)
	}
}

// The token source is built once: a token serves events until it is
// within 10 s of expiring, and then a new one is fetched.
func TestTokenCached(t *testing.T) {
	for _, tc := range []struct {
		name        string
		expiresIn   int
		wantFetches int32
	}{
		{"valid for an hour", 3599, 1},
		{"expiring", 5, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeGCP(t, nil)
			f.tokens.expires = tc.expiresIn
			n := newNotifier(t, f, notify.Config{})
			for range 2 {
				if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.tokens.fetches.Load(); got != tc.wantFetches {
				t.Errorf("%d token fetches, want %d", got, tc.wantFetches)
			}
			for _, r := range f.publishes() {
				if got := r.Header.Get("Authorization"); got != "Bearer "+accessToken {
					t.Errorf("Authorization = %q", got)
				}
			}
		})
	}
}

// A failed token fetch is classified by the token endpoint's status and
// keeps only the OAuth error fields of its reply; nothing is published.
func TestTokenErrors(t *testing.T) {
	const reply = `{"error":"invalid_grant","error_description":"Invalid JWT Signature.","echo":"assertion=eyJhbGciOi"}`
	tests := []struct {
		status    int
		body      string
		wantErr   string
		wantRetry bool
	}{
		{503, `Service Unavailable`, "fetching a GCP access token failed with status code 503", true},
		{500, `{"error":"internal_failure"}`, "fetching a GCP access token failed with status code 500: internal_failure", true},
		{429, `{"error":"rate_limit_exceeded"}`, "fetching a GCP access token failed with status code 429: rate_limit_exceeded", true},
		{400, reply, "fetching a GCP access token failed with status code 400: invalid_grant: Invalid JWT Signature.", false},
		{401, `{"error":"invalid_client"}`, "fetching a GCP access token failed with status code 401: invalid_client", false},
		{403, `{"error":"access_denied","error_description":"Account disabled"}`, "fetching a GCP access token failed with status code 403: access_denied: Account disabled", false},
	}
	for _, tc := range tests {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			tokens := notifytest.NewSink(t, notifytest.Status(tc.status, tc.body, "Content-Type", "application/json"))
			api := newFakeGCP(t, nil)
			n := newNotifier(t, api, notify.Config{Token: notify.Secret(credentials(tokens.URL + tokenPath))})
			retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if err == nil || err.Error() != tc.wantErr || retry != tc.wantRetry {
				t.Fatalf("retry = %v, err = %v; want %v, %q", retry, err, tc.wantRetry, tc.wantErr)
			}
			var e *notify.Error
			if !errors.As(err, &e) || e.StatusCode != tc.status {
				t.Errorf("err %#v does not carry status %d", err, tc.status)
			}
			if len(tokens.Requests()) != 1 || len(api.Requests()) != 0 {
				t.Errorf("%d token fetches, %d publishes", len(tokens.Requests()), len(api.Requests()))
			}
		})
	}

	t.Run("token endpoint down", func(t *testing.T) {
		n := newNotifier(t, newFakeGCP(t, nil), notify.Config{Token: notify.Secret(credentials(notifytest.ClosedAddress(t) + tokenPath))})
		if retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err == nil || !retry {
			t.Fatalf("retry = %v, err = %v; want a retryable error", retry, err)
		}
	})

	// The token request carries the signed assertion, good for an hour of
	// tokens: a token endpoint that redirects to another host gets a
	// permanent failure, and the other host nothing.
	t.Run("token endpoint redirects to another host", func(t *testing.T) {
		elsewhere := notifytest.NewSink(t, nil)
		tokens := notifytest.NewSink(t, notifytest.Redirect(http.StatusTemporaryRedirect, elsewhere.URL))
		api := newFakeGCP(t, nil)
		n := newNotifier(t, api, notify.Config{Token: notify.Secret(credentials(tokens.URL + tokenPath))})
		retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if err == nil || retry || !strings.HasSuffix(err.Error(), "refusing to follow a redirect to another host: 307 Temporary Redirect to "+elsewhere.URL) {
			t.Fatalf("retry = %v, err = %v; want a permanent refusal", retry, err)
		}
		if len(tokens.Requests()) != 1 || len(elsewhere.Requests()) != 0 || len(api.Requests()) != 0 {
			t.Errorf("%d token fetches, %d elsewhere, %d publishes", len(tokens.Requests()), len(elsewhere.Requests()), len(api.Requests()))
		}
	})

	// A stalled token endpoint cannot hold Notify past its context.
	t.Run("token endpoint stalls", func(t *testing.T) {
		release := make(chan struct{})
		tokens := notifytest.NewSink(t, func(http.ResponseWriter, *http.Request) { <-release })
		defer close(release)
		n := newNotifier(t, newFakeGCP(t, nil), notify.Config{Token: notify.Secret(credentials(tokens.URL + tokenPath))})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		retry, err := n.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
		if err == nil || !retry || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("retry = %v, err = %v; want a retryable deadline error", retry, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("Notify returned after %v", d)
		}
	})
}

// The shared status table, for the publish call; tokens come from a
// working token endpoint.
func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		n := newNotifier(t, newFakeGCP(t, nil), notify.Config{})
		n.Endpoint = address
		return n
	})
}

func TestNewErrors(t *testing.T) {
	const invalid = "googlepubsub: invalid GCP credentials in the secret's token: "
	key := privateKeyPEM()
	sa := func(fields map[string]string) string {
		m := map[string]string{"type": "service_account", "client_email": clientEmail, "private_key": key}
		for k, v := range fields {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"no project", notify.Config{Channel: topic, Token: "x"}, "GCP project ID cannot be empty"},
		{"no topic", notify.Config{Address: project, Token: "x"}, "GCP Pub/Sub topic ID cannot be empty"},
		{"no token", notify.Config{Address: project, Channel: topic},
			"googlepubsub: the secret's token must hold service-account JSON credentials; workload identity is not available outside GKE"},
		{"not JSON", notify.Config{Token: "s3cr3t-not-json"}, invalid + "not a JSON key file"},
		{"truncated JSON", notify.Config{Token: notify.Secret(sa(nil)[:40])}, invalid + "not a JSON key file"},
		{"other type", notify.Config{Token: `{"type":"authorized_user","refresh_token":"s3cr3t"}`}, invalid + `only "type": "service_account" keys are supported`},
		{"no type", notify.Config{Token: notify.Secret(sa(map[string]string{"type": ""}))}, invalid + `only "type": "service_account" keys are supported`},
		{"no client_email", notify.Config{Token: notify.Secret(sa(map[string]string{"client_email": ""}))}, invalid + "client_email is missing"},
		{"no private_key", notify.Config{Token: notify.Secret(sa(map[string]string{"private_key": ""}))}, invalid + "private_key is missing"},
		{"private_key not a key", notify.Config{Token: notify.Secret(sa(map[string]string{"private_key": "s3cr3t-not-a-key"}))},
			invalid + "private_key is not an RSA key in PEM-encoded PKCS #8 or PKCS #1"},
		{"token_uri relative", notify.Config{Token: notify.Secret(sa(map[string]string{"token_uri": "s3cr3t/token"}))},
			invalid + "token_uri is not an absolute URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			if cfg.Address == "" && tc.name != "no project" {
				cfg.Address = project
			}
			if cfg.Channel == "" && tc.name != "no topic" {
				cfg.Channel = topic
			}
			_, err := googlepubsub.New(cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// Key files as Google issues them (PKCS #8) and older PKCS #1 keys are
// accepted; token_uri defaults to Google's endpoint.
func TestNewAccepts(t *testing.T) {
	for _, token := range []string{credentials(""), credentials("https://oauth2.googleapis.com/token"), pkcs1Credentials()} {
		if _, err := googlepubsub.New(notify.Config{Address: project, Channel: topic, Token: notify.Secret(token)}); err != nil {
			t.Errorf("New: %v", err)
		}
	}
}

func TestNoSecretLeak(t *testing.T) {
	// The token endpoint hands out the planted token, which the API
	// endpoints below echo back in their Authorization header.
	f := newFakeGCP(t, nil)
	f.tokens.token = notifytest.LeakToken
	closed := notifytest.ClosedAddress(t)
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
		n, err := googlepubsub.New(cfg)
		if err != nil {
			return nil, err
		}
		// The address is the project ID; the API is the server that the
		// check planted it for, or a closed port when it does not parse.
		endpoint := closed
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			endpoint = u.Scheme + "://" + u.Host
		}
		n.Endpoint = endpoint
		return n, nil
	}, func(cfg *notify.Config) {
		cfg.Channel = topic
		cfg.Token = notify.Secret(f.credentials())
	})
}

// Neither the private key, the signed assertion (good for an hour of
// tokens) nor the access token reaches an error when a token endpoint or
// the API echoes the request.
func TestNoCredentialLeak(t *testing.T) {
	var assertion atomic.Value
	recordAssertion := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if err := r.ParseForm(); err == nil {
				assertion.Store(r.PostForm.Get("assertion"))
			}
			next(w, r)
		}
	}
	jsonEcho := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant", "request": r.PostForm.Encode()})
	}
	tests := []struct {
		name           string
		token, publish http.HandlerFunc
	}{
		{"token endpoint echoes 400", notifytest.Echo(400), nil},
		{"token endpoint echoes 503", notifytest.Echo(503), nil},
		{"token endpoint echoes in JSON", jsonEcho, nil},
		{"API echoes 500", nil, notifytest.Echo(500)},
		{"API echoes 403", nil, notifytest.Echo(403)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeGCP(t, tc.publish)
			tokenURL := api.URL + tokenPath
			if tc.token != nil {
				tokenURL = notifytest.NewSink(t, recordAssertion(tc.token)).URL + tokenPath
			}
			n := newNotifier(t, api, notify.Config{Token: notify.Secret(credentials(tokenURL))})
			_, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			t.Logf("error: %v", err)
			secrets := []string{accessToken, keyID}
			for _, line := range strings.Split(privateKeyPEM(), "\n") {
				if len(line) > 16 && !strings.HasPrefix(line, "-----") {
					secrets = append(secrets, line)
				}
			}
			if a, _ := assertion.Load().(string); a != "" {
				secrets = append(secrets, a, strings.Split(a, ".")[2])
			}
			for e := err; e != nil; e = errors.Unwrap(e) {
				for _, text := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
					for _, s := range secrets {
						if strings.Contains(text, s) {
							t.Errorf("error leaks %q: %s", s, text)
						}
					}
				}
			}
		})
	}
}
