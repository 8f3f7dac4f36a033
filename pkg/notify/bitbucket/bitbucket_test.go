package bitbucket_test

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
	"github.com/heraldhq/herald/pkg/notify/bitbucket"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	user     = "flux-bot"
	password = "ATBBappPassword0123456789abcdef"
	// The Provider UID of §4.3's key example.
	uid = "7d0cdc51-ddcf-4743-b223-83ca5c699632"
	sha = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	// §4.3: kustomization/podinfo/7d0cdc51 → this key.
	key = "2fb5e9b5b3a1b53071344af72cae20d63f3a6388"
)

var (
	getCall    = "GET /2.0/repositories/flux/podinfo/commit/" + sha + "/statuses/build/" + key
	createCall = "POST /2.0/repositories/flux/podinfo/commit/" + sha + "/statuses/build"
)

func newNotifier(t *testing.T, f *fake, address string) *bitbucket.Notifier {
	t.Helper()
	n, err := bitbucket.New(notify.Config{UID: uid, Address: notify.Secret(address), Token: user + ":" + password},
		bitbucket.WithAPIBase(f.URL+"/2.0"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
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

func TestKeyExample(t *testing.T) {
	if got := commitstatus.Key(commitstatus.DefaultID(uid, notifytest.ReferenceEvent(event.SeverityInfo, true))); got != key {
		t.Fatalf("key = %s", got)
	}
}

// The requests of §4.3 as go-bitbucket sends them, the key of §4.3's
// example in the path and body.
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, severity string }{{"success", event.SeverityInfo}, {"failure", event.SeverityError}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, user, password)
			notifyOK(t, newNotifier(t, f, "https://bitbucket.org/flux/podinfo.git"), notifytest.ReferenceEvent(tc.severity, true))
			assertCalls(t, f, getCall, createCall)
			reqs := f.Requests()
			notifytest.AssertGolden(t, "get-status", reqs[0])
			notifytest.AssertGolden(t, "create-status-"+tc.name, reqs[1])
			if !strings.Contains(string(reqs[1].Body), `"key":"`+key+`"`) {
				t.Errorf("body %s lacks the key", reqs[1].Body)
			}
		})
	}
}

// go-bitbucket marshals with encoding/json: HTML escaped, no newline.
func TestCreateBody(t *testing.T) {
	f := newFake(t, user, password)
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = "HealthCheckFailed"
	ev.InvolvedObject.Name = "a<b>&c"
	notifyOK(t, newNotifier(t, f, "git@bitbucket.org:flux/podinfo.git"), ev)
	k := commitstatus.Key("kustomization/a<b>&c/7d0cdc51")
	want := `{"key":"` + k + `","url":"https://bitbucket.org","state":"FAILED","name":"kustomization/a\u003cb\u003e\u0026c","description":"health check failed"}`
	if got := string(f.Requests()[1].Body); got != want {
		t.Errorf("body %s\nwant %s", got, want)
	}
}

// Same status twice gives one POST; a state change gives a second, and so
// does a new description.
func TestOnlyChangesAreSet(t *testing.T) {
	f := newFake(t, user, password)
	n := newNotifier(t, f, "https://bitbucket.org/flux/podinfo")
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, f, getCall, createCall, getCall)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, f, getCall, createCall, getCall, getCall, createCall)
	if s, _ := f.status("flux", "podinfo", sha, key); s.State != "FAILED" || s.Name != "kustomization/podinfo" {
		t.Errorf("status %+v", s)
	}
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = "HealthCheckFailed"
	notifyOK(t, n, ev)
	assertCalls(t, f, getCall, createCall, getCall, getCall, createCall, getCall, createCall)
	// Flux compares state and description only: another name is no change.
	f.put("flux", "podinfo", sha, bitbucketStatus("FAILED", "health check failed", "renamed"))
	notifyOK(t, n, ev)
	assertCalls(t, f, getCall, createCall, getCall, getCall, createCall, getCall, createCall, getCall)
}

func bitbucketStatus(state, desc, name string) fakeStatus {
	return fakeStatus{Key: key, URL: "https://bitbucket.org", State: state, Name: name, Description: desc}
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
		{"short commit", short, "x", "failed to extract commit hash from 'main@sha1:a1afe26' revision"},
		{"progressing is skipped", progressing, "x", ""},
		{"trace severity", trace, "x", "can't convert to bitbucket state"},
		{"empty status id", notifytest.ReferenceEvent(event.SeverityInfo, true), "", "commit status cannot be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, user, password)
			retry, err := newNotifier(t, f, "https://bitbucket.org/flux/podinfo").NotifyCommitStatus(context.Background(), tc.ev, tc.id)
			if retry || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("retry %v, err %v; want %q", retry, err, tc.wantErr)
			}
			assertCalls(t, f)
		})
	}
}

// The dispatcher's id (from commitStatusExpr) replaces the default; its
// SHA-1 is the key.
func TestStatusIDFromDispatcher(t *testing.T) {
	f := newFake(t, user, password)
	var n commitstatus.StatusNotifier = newNotifier(t, f, "https://bitbucket.org/flux/podinfo")
	if _, err := n.NotifyCommitStatus(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true), "prod/podinfo"); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.status("flux", "podinfo", sha, commitstatus.Key("prod/podinfo")); !ok {
		t.Errorf("calls %q", f.Calls())
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (fn roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return fn(r) }

// The host of the address is ignored: calls go to api.bitbucket.org, or to
// $BITBUCKET_API_BASE_URL, or to the option's base.
func TestAPIBase(t *testing.T) {
	tests := []struct {
		name, address, env string
		opts               []bitbucket.Option
		want               string
	}{
		{"default", "https://bitbucket.org/flux/podinfo", "", nil, "https://api.bitbucket.org/2.0/repositories/flux/podinfo/"},
		{"host ignored", "ssh://git@bitbucket.example.com:7999/flux/podinfo.git", "", nil, "https://api.bitbucket.org/2.0/repositories/flux/podinfo/"},
		{"env", "https://bitbucket.org/flux/podinfo", "http://bb.local:8080/api/2.0", nil, "http://bb.local:8080/api/2.0/repositories/flux/podinfo/"},
		{"option over env", "https://bitbucket.org/flux/podinfo", "http://bb.local:8080/api/2.0",
			[]bitbucket.Option{bitbucket.WithAPIBase("https://proxy.example.com/bb")}, "https://proxy.example.com/bb/repositories/flux/podinfo/"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = append(got, r.Method+" "+r.URL.String())
				return &http.Response{StatusCode: http.StatusNotFound, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
			})}
			opts := append([]bitbucket.Option{bitbucket.WithGetenv(func(k string) string {
				if k == bitbucket.EnvAPIBase {
					return tc.env
				}
				return ""
			})}, tc.opts...)
			n, err := bitbucket.New(notify.Config{UID: uid, Address: notify.Secret(tc.address), Token: user + ":" + password, HTTPClient: client}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			// The GET's 404 is tolerated; the POST's is not.
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err == nil {
				t.Fatal("a 404 on the POST succeeded")
			}
			want := []string{"GET " + tc.want + "commit/" + sha + "/statuses/build/" + key, "POST " + tc.want + "commit/" + sha + "/statuses/build"}
			if !slices.Equal(got, want) {
				t.Errorf("calls\n got %q\nwant %q", got, want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ name, address, token, want string }{
		{"no token", "https://bitbucket.org/flux/podinfo", "", "bitbucket token cannot be empty"},
		{"token without colon", "https://bitbucket.org/flux/podinfo", notifytest.LeakToken, "invalid token format, expected to be <user>:<password>"},
		{"token with two colons", "https://bitbucket.org/flux/podinfo", "a:b:" + notifytest.LeakToken, "invalid token format, expected to be <user>:<password>"},
		{"three segments", "https://bitbucket.org/flux/podinfo/" + notifytest.LeakPathToken, "a:b", "invalid repository id: the address path must be <owner>/<repo>"},
		{"local path", notifytest.LeakPathToken + "/repo", "a:b", "invalid repository address: not a git URL with a host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.NewError(t, func(cfg notify.Config) (*bitbucket.Notifier, error) { return bitbucket.New(cfg) },
				notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token)}, tc.want)
		})
	}
	_, err := bitbucket.New(notify.Config{Address: "https://bitbucket.org/a/b", Token: "a:b"}, bitbucket.WithAPIBase("ftp://x"))
	if err == nil || err.Error() != "invalid Bitbucket API base URL: it must be an http(s) URL" {
		t.Errorf("err = %v", err)
	}
}

// Each step is one attempt classified by the shared rules; the GET's 404
// is tolerated and the POST's is not.
func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) *bitbucket.Notifier {
		n, err := bitbucket.New(notify.Config{UID: uid, Address: "https://bitbucket.org/flux/podinfo", Token: user + ":" + password},
			bitbucket.WithAPIBase(address))
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// An error answer keeps Flux's prefix for the step that failed.
func TestErrorText(t *testing.T) {
	f := newFake(t, user, password)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		w.Header().Set("Retry-After", "9")
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "maintenance"})
		return true
	}
	retry, err := newNotifier(t, f, "https://bitbucket.org/flux/podinfo").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	want := "could not create commit status: request failed with status code 503: {\"error\":\"maintenance\"}\n"
	if !retry || err == nil || err.Error() != want {
		t.Fatalf("retry %v, err %q", retry, err)
	}
	if d, _ := notify.RetryAfter(err); d.Seconds() != 9 {
		t.Errorf("RetryAfter = %v", d)
	}
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Unauthorized"})
		return true
	}
	retry, err = newNotifier(t, f, "https://bitbucket.org/flux/podinfo").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	var e *notify.Error
	if retry || !errors.As(err, &e) || e.StatusCode != 401 || !strings.HasPrefix(err.Error(), "could not get commit status: request failed with status code 401") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
}

// Credentials follow redirects on the API host only.
func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	f := newFake(t, user, password)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasPrefix(r.URL.Path, "/2.0/repositories/flux/old-name/"):
			http.Redirect(w, r, strings.Replace(r.URL.RequestURI(), "old-name", "podinfo", 1), http.StatusTemporaryRedirect)
			return true
		case strings.HasPrefix(r.URL.Path, "/2.0/repositories/flux/moved/"):
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	notifyOK(t, newNotifier(t, f, "https://bitbucket.org/flux/old-name"), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if _, ok := f.status("flux", "podinfo", sha, key); !ok {
		t.Errorf("calls %q", f.Calls())
	}
	retry, err := newNotifier(t, f, "https://bitbucket.org/flux/moved").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || retry || err.Error() != "could not get commit status: GET request failed: refusing to follow a redirect to another host: 307 Temporary Redirect to "+elsewhere.URL {
		t.Fatalf("cross-host redirect: retry = %v, err = %v", retry, err)
	}
	if len(elsewhere.Requests()) != 0 {
		t.Error("the request followed a redirect to another host")
	}
}

// The leak check's Provider, with a token of Bitbucket's form and the API
// on the check's server.
func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (*bitbucket.Notifier, error) {
		var opts []bitbucket.Option
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			opts = append(opts, bitbucket.WithAPIBase(u.Scheme+"://"+u.Host+"/2.0"))
		}
		return bitbucket.New(cfg, opts...)
	}, func(cfg *notify.Config) {
		cfg.Token = notify.Secret(notifytest.LeakUsername + ":" + notifytest.LeakToken)
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path, u.RawQuery = "/flux/podinfo", ""
			cfg.Address = notify.Secret(u.String())
		}
	})
}
