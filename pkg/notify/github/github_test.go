package github_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/github"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token = "ghp_statustoken0123456789abcdefABCD"
	uid   = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	sha   = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	// The reference event's status id with the Provider UID above.
	statusID = "kustomization/podinfo/0c9c2e41"
)

var (
	listCall   = "GET /api/v3/repos/flux/podinfo/commits/" + sha + "/statuses?per_page=50"
	createCall = "POST /api/v3/repos/flux/podinfo/statuses/" + sha
)

func newNotifier(t *testing.T, cfg notify.Config, opts ...githubapp.Option) *github.Notifier {
	t.Helper()
	if cfg.UID == "" {
		cfg.UID = uid
	}
	n, err := github.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func tokenNotifier(t *testing.T, fake *githubtest.Server) *github.Notifier {
	fake.Token = token
	return newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo.git"), Token: token})
}

func notifyOK(t *testing.T, n notify.Notifier, ev event.Event) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), ev); err != nil || retry {
		t.Fatalf("Notify: retry %v, err %v", retry, err)
	}
}

func assertCalls(t *testing.T, fake *githubtest.Server, want ...string) {
	t.Helper()
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

// The requests of §4.3, as go-github v93 sends them: golden files hold the
// request line, every header and the exact body.
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, severity string }{{"success", event.SeverityInfo}, {"failure", event.SeverityError}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := githubtest.New(t)
			notifyOK(t, tokenNotifier(t, fake), notifytest.ReferenceEvent(tc.severity, true))
			reqs := fake.Requests()
			if len(reqs) != 2 {
				t.Fatalf("calls %q", fake.Calls())
			}
			notifytest.AssertGolden(t, "list-statuses", reqs[0])
			notifytest.AssertGolden(t, "create-status-"+tc.name, reqs[1])
		})
	}
}

// The body, byte for byte as Flux's: go-github's encoder, no HTML
// escaping, a trailing newline, fields in RepoStatus order.
func TestCreateBody(t *testing.T) {
	fake := githubtest.New(t)
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = "HealthCheckFailed"
	ev.InvolvedObject.Name = "a<b>&c"
	notifyOK(t, tokenNotifier(t, fake), ev)
	want := `{"state":"failure","description":"health check failed","context":"kustomization/a<b>&c/0c9c2e41"}` + "\n"
	if got := string(fake.Requests()[1].Body); got != want {
		t.Errorf("body %s\nwant %s", got, want)
	}
}

// Same status twice gives one POST; a state change gives a second.
func TestOnlyChangesAreSet(t *testing.T) {
	fake := githubtest.New(t)
	n := tokenNotifier(t, fake)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, fake, listCall, createCall, listCall)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, fake, listCall, createCall, listCall, listCall, createCall)
	got := fake.Statuses("flux", "podinfo", sha)
	if len(got) != 2 || got[0].State != "failure" || got[1].State != "success" || got[0].Context != statusID {
		t.Errorf("statuses %+v", got)
	}
	// A new description is a change too.
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = "HealthCheckFailed"
	notifyOK(t, n, ev)
	if got := fake.Statuses("flux", "podinfo", sha); len(got) != 3 || got[0].Description != "health check failed" {
		t.Errorf("statuses %+v", got)
	}
}

// Flux's duplicateGithubStatus table: the newest status of the same
// context decides, and incomplete entries are ignored.
func TestDedup(t *testing.T) {
	str := func(s string) string { return s }
	tests := []struct {
		name     string
		existing []githubtest.Status // oldest first
		wantPost bool
	}{
		{"none", nil, true},
		{"same", []githubtest.Status{{State: "success", Description: "reconciliation succeeded", Context: statusID}}, false},
		{"other state", []githubtest.Status{{State: "failure", Description: "reconciliation succeeded", Context: statusID}}, true},
		{"other description", []githubtest.Status{{State: "success", Description: "apply succeeded", Context: statusID}}, true},
		{"other context only", []githubtest.Status{{State: "success", Description: "reconciliation succeeded", Context: "ci"}}, true},
		{"newest differs", []githubtest.Status{
			{State: "success", Description: "reconciliation succeeded", Context: statusID},
			{State: "failure", Description: "reconciliation succeeded", Context: statusID}}, true},
		{"newest same, older differs", []githubtest.Status{
			{State: "failure", Description: "health check failed", Context: statusID},
			{State: "success", Description: "reconciliation succeeded", Context: statusID},
			{State: "pending", Description: "x", Context: "ci"}}, false},
		{"newest has no description", []githubtest.Status{
			{State: "success", Description: "reconciliation succeeded", Context: statusID},
			{State: "failure", Description: str(""), Context: statusID}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := githubtest.New(t)
			for _, st := range tc.existing {
				fake.AddStatus("flux", "podinfo", sha, st)
			}
			notifyOK(t, tokenNotifier(t, fake), notifytest.ReferenceEvent(event.SeverityInfo, true))
			posted := slices.Contains(fake.Calls(), createCall)
			if posted != tc.wantPost {
				t.Errorf("posted = %v, want %v", posted, tc.wantPost)
			}
		})
	}
}

func TestNoCall(t *testing.T) {
	noRevision := notifytest.ReferenceEvent(event.SeverityInfo, false)
	short := notifytest.ReferenceEvent(event.SeverityInfo, false)
	short.Metadata = map[string]string{"revision": "main@sha1:a1afe26"}
	progressing := notifytest.ReferenceEvent(event.SeverityInfo, true)
	progressing.Reason = "Progressing"
	trace := notifytest.ReferenceEvent(event.SeverityTrace, true)
	tests := []struct {
		name    string
		ev      event.Event
		id      string
		wantErr string
	}{
		{"missing revision", noRevision, statusID, "missing revision metadata"},
		{"short commit", short, statusID, "failed to extract commit hash from 'main@sha1:a1afe26' revision"},
		{"progressing is skipped", progressing, statusID, ""},
		{"trace severity", trace, statusID, "can't convert to github state"},
		{"empty status id", notifytest.ReferenceEvent(event.SeverityInfo, true), "", "commit status cannot be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := githubtest.New(t)
			retry, err := tokenNotifier(t, fake).NotifyCommitStatus(context.Background(), tc.ev, tc.id)
			if retry || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("retry %v, err %v; want %q", retry, err, tc.wantErr)
			}
			assertCalls(t, fake)
		})
	}
}

// §2.2: an error event reaches a commit-status provider even without commit
// metadata. With a revision it sets a failure; without one it fails as
// Flux's provider does, with no call.
func TestErrorEventWithoutCommitMetadata(t *testing.T) {
	ev := notifytest.ReferenceEvent(event.SeverityError, false)
	ev.Metadata = map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:" + sha}
	if !commitstatus.Receives(&ev) {
		t.Fatal("the error event does not reach the provider")
	}
	// After metadata combination the revision is unprefixed.
	ev.Metadata = map[string]string{"revision": "main@sha1:" + sha}
	fake := githubtest.New(t)
	n := tokenNotifier(t, fake)
	notifyOK(t, n, ev)
	assertCalls(t, fake, listCall, createCall)
	if st := fake.Statuses("flux", "podinfo", sha); len(st) != 1 || st[0].State != "failure" {
		t.Errorf("statuses %+v", st)
	}
	bare := notifytest.ReferenceEvent(event.SeverityError, false)
	if !commitstatus.Receives(&bare) {
		t.Fatal("the bare error event does not reach the provider")
	}
	if retry, err := n.Notify(context.Background(), bare); retry || err == nil || err.Error() != "missing revision metadata" {
		t.Errorf("retry %v, err %v", retry, err)
	}
	assertCalls(t, fake, listCall, createCall)
}

// The dispatcher's id (from commitStatusExpr) replaces the default.
func TestStatusIDFromDispatcher(t *testing.T) {
	fake := githubtest.New(t)
	var n commitstatus.StatusNotifier = tokenNotifier(t, fake)
	if _, err := n.NotifyCommitStatus(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true), "prod/podinfo"); err != nil {
		t.Fatal(err)
	}
	if st := fake.Statuses("flux", "podinfo", sha); len(st) != 1 || st[0].Context != "prod/podinfo" {
		t.Errorf("statuses %+v", st)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// github.com goes to api.github.com; any other host is an Enterprise Server.
func TestAPIURL(t *testing.T) {
	tests := map[string]string{
		"https://github.com/foo/bar":                  "https://api.github.com/repos/foo/bar/",
		"git@github.com:foo/bar.git":                  "https://api.github.com/repos/foo/bar/",
		"ssh://git@github.com/foo/bar.git":            "https://api.github.com/repos/foo/bar/",
		"https://ghe.example.com/org/repo":            "https://ghe.example.com/api/v3/repos/org/repo/",
		"ssh://git@ghe.example.com:2222/org/repo.git": "https://ghe.example.com:2222/api/v3/repos/org/repo/",
		"http://ghe.local:8080/org/repo":              "http://ghe.local:8080/api/v3/repos/org/repo/",
		"https://github.com:443/foo/bar":              "https://github.com:443/api/v3/repos/foo/bar/",
		"https://api.ghe.example.com/org/re":          "https://api.ghe.example.com/repos/org/re/",
		"https://x.api.example.com/org/re":            "https://x.api.example.com/api/v3/repos/org/re/",
	}
	for address, want := range tests {
		var got []string
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = append(got, r.Method+" "+r.URL.String()+" "+r.Header.Get("Authorization"))
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})}
		n := newNotifier(t, notify.Config{Address: notify.Secret(address), Token: token, HTTPClient: client})
		notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
		wantCalls := []string{
			"GET " + want + "commits/" + sha + "/statuses?per_page=50 Bearer " + token,
			"POST " + want + "statuses/" + sha + " Bearer " + token,
		}
		if !slices.Equal(got, wantCalls) {
			t.Errorf("%s:\n got %q\nwant %q", address, got, wantCalls)
		}
	}
}

func TestPasswordAsToken(t *testing.T) {
	fake := githubtest.New(t)
	fake.Token = token
	n := newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo"), Username: "git", Password: token})
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := fake.Requests()[1].Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization = %q", got)
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
		{name: "app keys without app id", address: "https://github.com/foo/bar",
			data: map[string]notify.Secret{"githubAppInstallationID": "456", "githubAppPrivateKey": key}, want: noCredentials},
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
		{name: "three segments", address: "https://github.com/foo/bar/" + notifytest.LeakPathToken, token: token,
			want: "invalid repository id: the address path must be <owner>/<repo>"},
		{name: "local path", address: notifytest.LeakPathToken + "/repo", token: token,
			want: "invalid repository address: not a git URL with a host"},
		{name: "enterprise over ftp", address: "ftp://ghe.example.com/" + notifytest.LeakPathToken + "/repo", token: token,
			want: "invalid repository address: a self-hosted server URL must use http, https or ssh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := github.New(notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token), SecretData: tc.data})
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

// Issue 9 item 5: GitHub's rate limits wait for the time their headers
// give; 422 "too many statuses" is permanent and logged.
func TestRateLimits(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	reset := strconv.FormatInt(now.Add(2*time.Minute).Unix(), 10)
	tests := []struct {
		name      string
		status    int
		body      string
		header    []string
		onCreate  bool // answer the POST, not the list
		wantErr   string
		wantRetry bool
		wantAfter time.Duration
	}{
		{name: "primary limit on 403 waits for the reset", status: 403, body: `{"message":"API rate limit exceeded"}`,
			header:    []string{"X-RateLimit-Limit", "5000", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset},
			wantErr:   "could not list commit statuses: GET " + "%s" + "/api/v3/repos/flux/podinfo/commits/" + sha + "/statuses?per_page=50: 403 API rate limit exceeded",
			wantRetry: true, wantAfter: 2 * time.Minute},
		{name: "primary limit on 429", status: 429, body: `{"message":"API rate limit exceeded"}`,
			header:    []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset},
			wantRetry: true, wantAfter: 2 * time.Minute},
		{name: "secondary limit with Retry-After", status: 403, onCreate: true,
			body:      `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			header:    []string{"Retry-After", "60"},
			wantErr:   "could not create commit status: POST %s/api/v3/repos/flux/podinfo/statuses/" + sha + ": 403 You have exceeded a secondary rate limit [retry after 1m0s]",
			wantRetry: true, wantAfter: time.Minute},
		{name: "secondary limit without a time waits a minute", status: 403, onCreate: true,
			body:      `{"message":"You have exceeded a secondary rate limit","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}`,
			wantRetry: true, wantAfter: time.Minute},
		{name: "403 with Retry-After only", status: 403, body: `{"message":"slow down"}`, header: []string{"Retry-After", "30"},
			wantRetry: true, wantAfter: 30 * time.Second},
		{name: "429 with Retry-After", status: 429, body: `{"message":"slow down"}`, header: []string{"Retry-After", "7"},
			wantRetry: true, wantAfter: 7 * time.Second},
		{name: "plain 403 is permanent", status: 403, body: `{"message":"Resource not accessible by personal access token"}`,
			wantErr: "could not list commit statuses: GET %s/api/v3/repos/flux/podinfo/commits/" + sha + "/statuses?per_page=50: 403 Resource not accessible by personal access token []"},
		{name: "too many statuses is permanent", status: 422, onCreate: true,
			body:    `{"message":"Validation Failed","errors":[{"resource":"Status","code":"custom","message":"This SHA and context has reached the maximum number of statuses."}],"documentation_url":"https://docs.github.com/rest/commits/statuses#create-a-commit-status"}`,
			wantErr: "could not create commit status: POST %s/api/v3/repos/flux/podinfo/statuses/" + sha + ": 422 Validation Failed [{Resource:Status Field: Code:custom Message:This SHA and context has reached the maximum number of statuses.}]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := githubtest.New(t)
			fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if (r.Method == http.MethodPost) != tc.onCreate {
					return false
				}
				for i := 0; i+1 < len(tc.header); i += 2 {
					w.Header().Set(tc.header[i], tc.header[i+1])
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
				return true
			}
			n := tokenNotifier(t, fake)
			n.Now = func() time.Time { return now }
			logs := captureLogs(t)
			retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if err == nil {
				t.Fatal("no error")
			}
			if tc.wantErr != "" {
				// go-github adds "[rate reset in …]" by its own clock.
				if want := strings.ReplaceAll(tc.wantErr, "%s", fake.URL); !strings.HasPrefix(err.Error(), want) {
					t.Errorf("err = %v\nwant  %s", err, want)
				}
			}
			var e *notify.Error
			if !errors.As(err, &e) || e.StatusCode != tc.status || retry != tc.wantRetry {
				t.Fatalf("retry %v, error %#v", retry, err)
			}
			if e.RetryAfter < tc.wantAfter-2*time.Second || e.RetryAfter > tc.wantAfter {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.wantAfter)
			}
			if logged := strings.Contains(logs.String(), "refuses more statuses"); logged != (tc.status == 422) {
				t.Errorf("logs: %s", logs.String())
			}
		})
	}
}

// The token follows redirects on the API host only.
func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	fake := githubtest.New(t)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/v3/repos/flux/old-name/"):
			http.Redirect(w, r, strings.Replace(r.URL.RequestURI(), "old-name", "podinfo", 1), http.StatusTemporaryRedirect)
			return true
		case strings.HasPrefix(r.URL.Path, "/api/v3/repos/flux/moved/"):
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	fake.Token = token
	n := newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/old-name"), Token: token})
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if st := fake.Statuses("flux", "podinfo", sha); len(st) != 1 {
		t.Errorf("statuses %+v", st)
	}
	n = newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/moved"), Token: token})
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || retry || !strings.Contains(err.Error(), "refusing to follow a redirect to another host") {
		t.Fatalf("cross-host redirect: retry = %v, err = %v", retry, err)
	}
	if len(elsewhere.Requests()) != 0 {
		t.Error("the request followed a redirect to another host")
	}
}

// go-github's errors name the API URL with the repository, which is no
// secret. The check plants its secrets everywhere else.
func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) { return github.New(cfg) }, func(cfg *notify.Config) {
		u, err := url.Parse(cfg.Address.Reveal())
		if err != nil || u.Host == "" {
			return
		}
		u.Path = "/flux/podinfo"
		cfg.Address = notify.Secret(u.String())
	})
}

func TestTimeoutUnwraps(t *testing.T) {
	release := make(chan struct{})
	sink := notifytest.NewSink(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/o/r"), Password: token})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	retry, err := n.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if !retry || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), token) {
		t.Fatalf("retry = %v, err = %v", retry, err)
	}
}

func newKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func pemKey(t *testing.T, k *rsa.PrivateKey) notify.Secret {
	t.Helper()
	return notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func pkcs8Key(t *testing.T, k *rsa.PrivateKey) notify.Secret {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
