package bitbucketserver_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/bitbucketserver"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token    = "BBDC-httpaccesstoken0123456789abcdef"
	user     = "flux-bot"
	password = "s3cret-bitbucket-pw"
	uid      = "7d0cdc51-ddcf-4743-b223-83ca5c699632"
	sha      = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	key      = "2fb5e9b5b3a1b53071344af72cae20d63f3a6388" // §4.3's example
	name     = "kustomization/podinfo [reconciliation succeeded]"
)

func calls(contextPath string) (get, post string) {
	base := contextPath + "/rest/api/latest/projects/FLUX/repos/podinfo/commits/" + sha + "/builds"
	return "GET " + base + "?key=" + key, "POST " + base
}

func newNotifier(t *testing.T, cfg notify.Config) *bitbucketserver.Notifier {
	t.Helper()
	cfg.UID = uid
	n, err := bitbucketserver.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func tokenNotifier(t *testing.T, f *fake, contextPath string) *bitbucketserver.Notifier {
	return newNotifier(t, notify.Config{Address: notify.Secret(f.URL + contextPath + "/scm/FLUX/podinfo.git"), Token: token})
}

func notifyOK(t *testing.T, n notify.Notifier, ev event.Event) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), ev); err != nil || retry {
		t.Fatalf("Notify: retry %v, err %v", retry, err)
	}
}

func assertCalls(t *testing.T, f *fake, want ...string) {
	t.Helper()
	if got := f.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

// The requests of §4.3 as Flux sends them. The status url is the Provider
// address, which holds the fake's port, so the golden files use a fixed one.
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, severity string }{{"success", event.SeverityInfo}, {"failure", event.SeverityError}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "", "Bearer "+token)
			notifyOK(t, tokenNotifier(t, f, ""), notifytest.ReferenceEvent(tc.severity, true))
			get, post := calls("")
			assertCalls(t, f, get, post)
			reqs := f.Requests()
			reqs[1].Body = []byte(strings.ReplaceAll(string(reqs[1].Body), f.URL, "http://127.0.0.1:7990"))
			notifytest.AssertGolden(t, "get-build-status", reqs[0])
			notifytest.AssertGolden(t, "post-build-status-"+tc.name, reqs[1])
		})
	}
}

// Flux's json.Encoder: HTML escaped, omitempty description, a newline.
func TestPostBody(t *testing.T) {
	f := newFake(t, "", "Bearer "+token)
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = ""
	ev.InvolvedObject.Name = "a<b>&c"
	address := "https://bitbucket.example.com/scm/FLUX/podinfo.git?x=1&y=2"
	client := f.Client()
	client.Transport = rewriteHost(f.URL)
	notifyOK(t, newNotifier(t, notify.Config{Address: notify.Secret(address), Token: token, HTTPClient: client}), ev)
	k := commitstatus.Key("kustomization/a<b>&c/7d0cdc51")
	want := `{"key":"` + k + `","name":"kustomization/a\u003cb\u003e\u0026c []","state":"FAILED","url":"https://bitbucket.example.com/scm/FLUX/podinfo.git?x=1\u0026y=2"}` + "\n"
	if got := string(f.Requests()[1].Body); got != want {
		t.Errorf("body %s\nwant %s", got, want)
	}
}

// rewriteHost sends every request to the fake, keeping its path.
type rewriteHost string

func (h rewriteHost) RoundTrip(r *http.Request) (*http.Response, error) {
	u, _ := url.Parse(string(h))
	r = r.Clone(r.Context())
	r.URL.Scheme, r.URL.Host = u.Scheme, u.Host
	return http.DefaultTransport.RoundTrip(r)
}

// Same status twice gives one POST; a state change gives a second; so does
// another name or description.
func TestOnlyChangesAreSet(t *testing.T) {
	f := newFake(t, "", "Bearer "+token)
	n := tokenNotifier(t, f, "")
	get, post := calls("")
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, f, get, post, get)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, f, get, post, get, get, post)
	s, _ := f.status("FLUX", "podinfo", sha, key)
	if s.State != "FAILED" || s.Name != name || s.URL != f.URL+"/scm/FLUX/podinfo.git" {
		t.Errorf("status %+v", s)
	}
	s.Name = "renamed"
	f.put("FLUX", "podinfo", sha, s)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, f, get, post, get, get, post, get, post)
}

// The context path is what comes before the last /scm/.
func TestContextPath(t *testing.T) {
	for _, ctxPath := range []string{"/bitbucket", "/scm/tools/bitbucket"} {
		t.Run(ctxPath, func(t *testing.T) {
			f := newFake(t, ctxPath, "Bearer "+token)
			notifyOK(t, tokenNotifier(t, f, ctxPath), notifytest.ReferenceEvent(event.SeverityInfo, true))
			get, post := calls(ctxPath)
			assertCalls(t, f, get, post)
		})
	}
}

func TestAuth(t *testing.T) {
	basic := notifytest.BasicAuth(user, password)
	f := newFake(t, "", basic)
	address := notify.Secret(f.URL + "/scm/FLUX/podinfo.git")
	notifyOK(t, newNotifier(t, notify.Config{Address: address, Username: user, Password: password}), notifytest.ReferenceEvent(event.SeverityInfo, true))
	// The token wins over username and password.
	f.auth = "Bearer " + token
	notifyOK(t, newNotifier(t, notify.Config{Address: address, Username: user, Password: password, Token: token}), notifytest.ReferenceEvent(event.SeverityError, true))
	for _, r := range f.Requests() {
		if r.Header.Get("Authorization") == "" || len(r.Header.Values("Authorization")) != 1 {
			t.Errorf("%s %s: Authorization %q", r.Method, r.URI, r.Header.Values("Authorization"))
		}
	}
	if got := len(f.Requests()); got != 4 {
		t.Errorf("%d requests", got)
	}
}

// The status link never carries the address's userinfo.
func TestStatusURLWithoutUserinfo(t *testing.T) {
	f := newFake(t, "", "Bearer "+token)
	u, _ := url.Parse(f.URL)
	u.User = url.UserPassword("git", notifytest.LeakUserinfo)
	u.Path = "/scm/FLUX/podinfo.git"
	notifyOK(t, newNotifier(t, notify.Config{Address: notify.Secret(u.String()), Token: token}), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if body := string(f.Requests()[1].Body); strings.Contains(body, notifytest.LeakUserinfo) || !strings.Contains(body, `"url":"`+f.URL+`/scm/FLUX/podinfo.git"`) {
		t.Errorf("body %s", body)
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
		{"missing revision", noRevision, "x", "missing revision metadata"},
		{"short commit", short, "x", "could not parse revision: failed to extract commit hash from 'main@sha1:a1afe26' revision"},
		{"progressing is skipped", progressing, "x", ""},
		{"trace severity", trace, "x", "couldn't convert to bitbucket server state: bitbucket server state generated on info or error events only"},
		{"empty status id", notifytest.ReferenceEvent(event.SeverityInfo, true), "", "commit status cannot be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "", "Bearer "+token)
			retry, err := tokenNotifier(t, f, "").NotifyCommitStatus(context.Background(), tc.ev, tc.id)
			if retry || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("retry %v, err %v; want %q", retry, err, tc.wantErr)
			}
			assertCalls(t, f)
		})
	}
}

func TestStatusIDFromDispatcher(t *testing.T) {
	f := newFake(t, "", "Bearer "+token)
	var n commitstatus.StatusNotifier = tokenNotifier(t, f, "")
	if _, err := n.NotifyCommitStatus(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true), "prod/podinfo"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.status("FLUX", "podinfo", sha, commitstatus.Key("prod/podinfo")); !ok {
		t.Errorf("calls %q", f.Calls())
	}
}

func TestNewErrors(t *testing.T) {
	const noCreds = "invalid credentials, expected to be one of username/password or API Token"
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"no credentials", notify.Config{Address: "https://bb.example.com/scm/FLUX/podinfo.git"}, noCreds},
		{"username only", notify.Config{Address: "https://bb.example.com/scm/FLUX/podinfo.git", Username: user}, noCreds},
		{"password only", notify.Config{Address: "https://bb.example.com/scm/FLUX/podinfo.git", Password: password}, noCreds},
		{"ssh", notify.Config{Address: "ssh://git@bb.example.com:7999/" + notifytest.LeakPathToken + "/podinfo.git", Token: token},
			"could not parse git address: unsupported scheme type in address. Must be http or https"},
		{"no /scm/", notify.Config{Address: "https://bb.example.com/projects/" + notifytest.LeakPathToken + "/podinfo.git", Token: token},
			"could not parse git address: supplied provider address is not http(s) git clone url"},
		{"three segments", notify.Config{Address: "https://bb.example.com/scm/FLUX/x/" + notifytest.LeakPathToken, Token: token},
			"could not parse git address: invalid repository id: the path after /scm/ must be <project>/<repo>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.NewError(t, bitbucketserver.New, tc.cfg, tc.want)
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) *bitbucketserver.Notifier {
		return newNotifier(t, notify.Config{Address: notify.Secret(address + "/scm/FLUX/podinfo.git"), Token: token})
	})
}

func TestErrorText(t *testing.T) {
	f := newFake(t, "", "Bearer other")
	retry, err := tokenNotifier(t, f, "").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	var e *notify.Error
	if retry || !errors.As(err, &e) || e.StatusCode != 401 ||
		!strings.HasPrefix(err.Error(), "could not get existing commit status: request failed with status code 401: {\"errors\"") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	f.auth = "Bearer " + token
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		w.Header().Set("Retry-After", "5")
		writeJSON(w, http.StatusTooManyRequests, errorsBody("slow down"))
		return true
	}
	retry, err = tokenNotifier(t, f, "").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if d, _ := notify.RetryAfter(err); !retry || d.Seconds() != 5 || !strings.HasPrefix(err.Error(), "could not post build status: request failed with status code 429") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
}

func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	f := newFake(t, "", "Bearer "+token)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.Contains(r.URL.Path, "/repos/old-name/"):
			http.Redirect(w, r, strings.Replace(r.URL.RequestURI(), "old-name", "podinfo", 1), http.StatusTemporaryRedirect)
			return true
		case strings.Contains(r.URL.Path, "/repos/moved/"):
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusPermanentRedirect)
			return true
		}
		return false
	}
	notifyOK(t, newNotifier(t, notify.Config{Address: notify.Secret(f.URL + "/scm/FLUX/old-name.git"), Token: token}), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if _, ok := f.status("FLUX", "podinfo", sha, key); !ok {
		t.Errorf("calls %q", f.Calls())
	}
	n := newNotifier(t, notify.Config{Address: notify.Secret(f.URL + "/scm/FLUX/moved.git"), Token: token})
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || retry || err.Error() != ("could not get existing commit status: GET request failed: refusing to follow a redirect to another host: 308 Permanent Redirect to "+elsewhere.URL) {
		t.Fatalf("cross-host redirect: retry = %v, err = %v", retry, err)
	}
	if len(elsewhere.Requests()) != 0 {
		t.Error("the request followed a redirect to another host")
	}
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, bitbucketserver.New, func(cfg *notify.Config) {
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			// A clone URL that keeps the planted userinfo and query.
			u.Path = "/" + notifytest.LeakPathToken + "/scm/FLUX/podinfo.git"
			cfg.Address = notify.Secret(u.String())
		}
	})
}
