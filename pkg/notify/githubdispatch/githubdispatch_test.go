package githubdispatch_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/githubdispatch"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is what go-github sends for the reference event at info with
// metadata (§4.5): the client_payload is the event exactly as the generic
// provider posts it (§4.2), and the encoder adds a newline.
const referenceBody = `{"event_type":"Kustomization/podinfo.flux-system","client_payload":{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}}` + "\n"

const token = "ghp_dispatchtoken0123456789abcdef"

func newNotifier(t *testing.T, cfg notify.Config, opts ...githubapp.Option) *githubdispatch.Notifier {
	t.Helper()
	return notifytest.New(t, func(cfg notify.Config) (*githubdispatch.Notifier, error) { return githubdispatch.New(cfg, opts...) }, cfg)
}

// noContent is GitHub's answer to a dispatch.
var noContent = notifytest.Status(http.StatusNoContent, "")

// The sink stands in for a GitHub Enterprise server: any host but
// github.com gets the base <host>/api/v3/.
func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		// password is used as the token when token is empty.
		token, password string
		path            string
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true, token: token, path: "/flux/podinfo"},
		{name: "info-no-metadata", severity: event.SeverityInfo, token: token, path: "/flux/podinfo"},
		{name: "error", severity: event.SeverityError, metadata: true, token: token, path: "/flux/podinfo"},
		{name: "error-no-metadata", severity: event.SeverityError, token: token, path: "/flux/podinfo"},
		{name: "password-as-token-dot-git", severity: event.SeverityInfo, metadata: true, password: token, path: "/flux/podinfo.git"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, noContent)
			n := newNotifier(t, notify.Config{
				Address:  notify.Secret(sink.URL + tc.path),
				Username: "git",
				Token:    notify.Secret(tc.token),
				Password: notify.Secret(tc.password),
			})
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(tc.severity, tc.metadata)); err != nil {
				t.Fatal(err)
			}
			req := sink.Last(t)
			notifytest.AssertGolden(t, tc.name, req)
			if got := req.Header.Get("Authorization"); got != "Bearer "+token {
				t.Errorf("Authorization = %q", got)
			}
		})
	}
}

func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, noContent)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/flux/podinfo"), Token: token})
	if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
		t.Fatal(err)
	}
	req := sink.Last(t)
	if got := string(req.Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
	for name, want := range map[string]string{
		"Accept":               "application/vnd.github.v3+json",
		"X-Github-Api-Version": "2022-11-28",
		"Content-Type":         "application/json",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// event_type keeps the Kind's case; the payload is escaped as
// json.Marshal escapes, while go-github's own encoder does not escape.
func TestEventTypeAndEscaping(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.InvolvedObject.Name = "a<b>&c"
	if got := githubdispatch.EventType(ev); got != "GitRepository/a<b>&c.gitops-system" {
		t.Errorf("EventType = %s", got)
	}
	sink := notifytest.NewSink(t, noContent)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/o/r"), Token: token})
	if _, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	body := string(sink.Last(t).Body)
	if !strings.HasPrefix(body, `{"event_type":"GitRepository/a<b>&c.gitops-system","client_payload":{"involvedObject":{"kind":"GitRepository","namespace":"gitops-system","name":"a\u003cb\u003e\u0026c"}`) {
		t.Errorf("body = %s", body)
	}
}

// Flux's github_dispatch_test.go: commit status updates are skipped.
func TestSkipsCommitStatusUpdate(t *testing.T) {
	sink := notifytest.NewSink(t, noContent)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/o/r"), Token: token})
	ev := notifytest.FluxTestEvent()
	ev.Metadata[event.MetaCommitStatus] = "update"
	if retry, err := n.Notify(context.Background(), ev); retry || err != nil {
		t.Fatalf("retry = %v, err = %v", retry, err)
	}
	if len(sink.Requests()) != 0 {
		t.Error("a commit status update was dispatched")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// The API URL each address leads to, recorded by a transport that answers
// 204 without a network. Flux's tests: github.com goes to api.github.com,
// foobar.com is an enterprise host.
func TestAPIURL(t *testing.T) {
	tests := map[string]string{
		"https://github.com/foo/bar":                     "https://api.github.com/repos/foo/bar/dispatches",
		"https://github.com/foo/bar.git":                 "https://api.github.com/repos/foo/bar/dispatches",
		"https://x-access-token:t@github.com/foo/bar":    "https://api.github.com/repos/foo/bar/dispatches",
		"git@github.com:foo/bar.git":                     "https://api.github.com/repos/foo/bar/dispatches",
		"ssh://git@github.com/foo/bar.git":               "https://api.github.com/repos/foo/bar/dispatches",
		"http://github.com/foo/bar":                      "https://api.github.com/repos/foo/bar/dispatches",
		"https://foobar.com/foo/bar":                     "https://foobar.com/api/v3/repos/foo/bar/dispatches",
		"git@ghe.example.com:org/repo.git":               "https://ghe.example.com/api/v3/repos/org/repo/dispatches",
		"ssh://git@ghe.example.com:2222/org/repo.git":    "https://ghe.example.com:2222/api/v3/repos/org/repo/dispatches",
		"http://ghe.local:8080/org/repo":                 "http://ghe.local:8080/api/v3/repos/org/repo/dispatches",
		"https://ghe.example.com/org/repo?ref=main#frag": "https://ghe.example.com/api/v3/repos/org/repo/dispatches",
		// Quirks kept from Flux: the host is compared with its port, and
		// go-github v64 adds no /api/v3/ to an "api." host, but does to a
		// ".api." host that is not GitHub's.
		"https://github.com:443/foo/bar":     "https://github.com:443/api/v3/repos/foo/bar/dispatches",
		"https://api.ghe.example.com/org/re": "https://api.ghe.example.com/repos/org/re/dispatches",
		"https://x.api.example.com/org/re":   "https://x.api.example.com/api/v3/repos/org/re/dispatches",
	}
	for address, want := range tests {
		var got string
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = r.Method + " " + r.URL.String()
			return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})}
		n := newNotifier(t, notify.Config{Address: notify.Secret(address), Token: token, HTTPClient: client})
		if _, err := n.Notify(context.Background(), notifytest.FluxTestEvent()); err != nil {
			t.Errorf("%s: %v", address, err)
		}
		if got != "POST "+want {
			t.Errorf("%s: request %q, want POST %s", address, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	const noCredentials = "github token or github app details must be specified"
	key := pemKey(t, newKey(t))
	tests := []struct {
		name    string
		address string
		token   string
		data    map[string]notify.Secret
		want    string
	}{
		{name: "no token", address: "https://github.com/foo/bar", want: noCredentials},
		// Flux's case: App keys without the App ID are no App.
		{name: "app keys without app id", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppInstallationID": "456", "githubAppPrivateKey": "pem"}, want: noCredentials},
		// App keys are checked with githubapp's (Flux's) texts, before the address.
		{name: "app id not a number", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppID": "abc", "githubAppInstallationID": "456", "githubAppPrivateKey": key},
			want: "app ID must be provided to use github app authentication"},
		{name: "no installation", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppID": "123", "githubAppPrivateKey": key},
			want: "app installation owner or ID must be provided to use github app authentication"},
		{name: "both installations", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppID": "123", "githubAppInstallationID": "456", "githubAppInstallationOwner": "flux", "githubAppPrivateKey": key},
			want: "only one of app installation owner or ID must be provided to use github app authentication"},
		{name: "no key", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppID": "123", "githubAppInstallationID": "456"},
			want: "private key must be provided to use github app authentication"},
		{name: "bad key", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppID": "123", "githubAppInstallationID": "456", "githubAppPrivateKey": notifytest.LeakAPIKey},
			want: "could not parse private key: invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key"},
		{name: "app with a bad address", address: notifytest.LeakPathToken + "/repo",
			data: map[string]notify.Secret{"githubAppID": "123", "githubAppInstallationID": "456", "githubAppPrivateKey": key},
			want: "invalid repository address: not a git URL with a host"},
		{name: "three segments", address: "https://github.com/foo/bar/" + notifytest.LeakPathToken, token: token,
			want: "invalid repository id: the address path must be <owner>/<repo>"},
		{name: "one segment", address: "https://github.com/" + notifytest.LeakPathToken, token: token,
			want: "invalid repository id: the address path must be <owner>/<repo>"},
		{name: "empty repo", address: "https://github.com/" + notifytest.LeakPathToken + "/", token: token,
			want: "invalid repository id: the address path must be <owner>/<repo>"},
		{name: "local path", address: notifytest.LeakPathToken + "/repo", token: token,
			want: "invalid repository address: not a git URL with a host"},
		{name: "file URL", address: "file:///" + notifytest.LeakPathToken + "/repo", token: token,
			want: "invalid repository address: not a git URL with a host"},
		{name: "enterprise over ftp", address: "ftp://ghe.example.com/" + notifytest.LeakPathToken + "/repo", token: token,
			want: "invalid repository address: a self-hosted server URL must use http, https or ssh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := githubdispatch.New(notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token), SecretData: tc.data})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		// The kit's address ends in /hook: make it /hook/podinfo, a repository.
		return newNotifier(t, notify.Config{Address: notify.Secret(address + "/podinfo"), Token: token})
	})
}

// GitHub's answers beyond the shared table, classified by githubapp.Classify
// as for every GitHub provider, and the error text: Flux's, with
// go-github's request line and message, masked.
func TestGitHubOutcomes(t *testing.T) {
	// go-github checks its rate-limit state against the real clock.
	now := time.Now().Truncate(time.Second)
	reset := strconv.FormatInt(now.Add(2*time.Minute).Unix(), 10)
	tests := []struct {
		name        string
		status      int
		body        string
		header      []string
		wantErr     string // after "Could not send github repository dispatch webhook: POST <api>: "
		wantRetry   bool
		wantAfter   time.Duration
		wantBlocked bool // the next attempt is answered without a request
	}{
		{name: "202 accepted", status: 202},
		{name: "200 with a body go-github cannot decode", status: 200, body: "not JSON"},
		{name: "plain 403 is permanent", status: 403, body: `{"message":"Resource not accessible by personal access token"}`,
			wantErr: "403 Resource not accessible by personal access token []"},
		{name: "primary rate limit waits for the reset", status: 403, body: `{"message":"API rate limit exceeded"}`,
			header:  []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset},
			wantErr: "403 API rate limit exceeded", wantRetry: true, wantAfter: 2 * time.Minute, wantBlocked: true},
		{name: "secondary rate limit waits for Retry-After", status: 403,
			body:    `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			header:  []string{"Retry-After", "60"},
			wantErr: "403 You have exceeded a secondary rate limit [retry after 1m0s]", wantRetry: true, wantAfter: time.Minute, wantBlocked: true},
		{name: "secondary rate limit without a time waits a minute", status: 403,
			body:    `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			wantErr: "403 You have exceeded a secondary rate limit", wantRetry: true, wantAfter: time.Minute},
		{name: "403 with Retry-After only waits for it", status: 403, body: `{"message":"slow down"}`, header: []string{"Retry-After", "30"},
			wantErr: "403 slow down []", wantRetry: true, wantAfter: 30 * time.Second},
		{name: "validation error", status: 422, body: `{"message":"Invalid request.","errors":[{"resource":"Dispatch","field":"event_type","code":"missing_field"}]}`,
			wantErr: "422 Invalid request. [{Resource:Dispatch Field:event_type Code:missing_field Message:}]"},
		{name: "echoed token is masked", status: 401, body: `{"message":"Bad credentials: ` + token + `"}`,
			wantErr: "401 Bad credentials: ***** []"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, notifytest.Status(tc.status, tc.body, tc.header...))
			n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/flux/podinfo"), Token: token})
			n.Now = func() time.Time { return now }
			retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, true))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			want := "Could not send github repository dispatch webhook: POST " + sink.URL + "/api/v3/repos/flux/podinfo/dispatches: " + tc.wantErr
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("err = %v\nwant %s", err, want)
			}
			if retry != tc.wantRetry {
				t.Errorf("retry = %v, want %v", retry, tc.wantRetry)
			}
			var e *notify.Error
			if !errors.As(err, &e) || e.StatusCode != tc.status {
				t.Fatalf("err %#v does not carry status %d", err, tc.status)
			}
			if e.RetryAfter < tc.wantAfter-2*time.Second || e.RetryAfter > tc.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.wantAfter)
			}

			retry, err = n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, true))
			if sent := len(sink.Requests()); tc.wantBlocked && (sent != 1 || err == nil || !retry) {
				t.Errorf("during the rate limit: %d requests, retry %v, err %v; want 1 request and a retryable error", sent, retry, err)
			}
		})
	}
}

// The token follows redirects on the API host only.
func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, noContent)
	sink := notifytest.NewSink(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v3/repos/flux/old-name/dispatches":
			http.Redirect(w, r, "/api/v3/repos/flux/podinfo/dispatches", http.StatusTemporaryRedirect)
		case "/api/v3/repos/flux/moved/dispatches":
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
	ev := notifytest.ReferenceEvent(event.SeverityInfo, true)

	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/flux/old-name"), Token: token})
	if _, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("same-host redirect: %v", err)
	}
	last := sink.Last(t)
	if last.URI != "/api/v3/repos/flux/podinfo/dispatches" || last.Header.Get("Authorization") != "Bearer "+token ||
		!strings.HasPrefix(string(last.Body), `{"event_type":`) {
		t.Errorf("redirected request: %s %q %s", last.URI, last.Header.Get("Authorization"), last.Body)
	}

	n = newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/flux/moved"), Token: token})
	retry, err := n.Notify(context.Background(), ev)
	if err == nil || retry || !strings.Contains(err.Error(), "refusing to follow a redirect to another host") {
		t.Fatalf("cross-host redirect: retry = %v, err = %v", retry, err)
	}
	if len(elsewhere.Requests()) != 0 {
		t.Error("the request followed a redirect to another host")
	}
}

// go-github's errors name the API URL with the repository, which is no
// secret. The check plants its secrets everywhere else: userinfo, query,
// token, password, headers, proxy credentials.
func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) { return githubdispatch.New(cfg) }, func(cfg *notify.Config) {
		u, err := url.Parse(cfg.Address.Reveal())
		if err != nil || u.Host == "" {
			return // the addresses that must not parse stay as they are
		}
		u.Path = "/flux/podinfo"
		cfg.Address = notify.Secret(u.String())
	})
}

// With the password as token, a timeout still unwraps to the context error.
func TestTimeoutUnwraps(t *testing.T) {
	release := make(chan struct{})
	sink := notifytest.NewSink(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/o/r"), Password: token})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	retry, err := n.Notify(ctx, notifytest.FluxTestEvent())
	if !retry || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("retry = %v, err = %v", retry, err)
	}
	if strings.Contains(err.Error(), token) {
		t.Errorf("error leaks the token: %v", err)
	}
}
