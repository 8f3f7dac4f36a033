package gitlab_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/gitlab"
	"github.com/heraldhq/herald/pkg/notify/gitlab/gitlabtest"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token    = "glpat-statustoken0123456789abcd"
	uid      = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	sha      = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	statusID = "kustomization/podinfo/0c9c2e41"
	project  = "flux/apps/podinfo"
)

var (
	listCall   = "GET /api/v4/projects/flux%2Fapps%2Fpodinfo/repository/commits/" + sha + "/statuses?name=kustomization%2Fpodinfo%2F0c9c2e41"
	createCall = "POST /api/v4/projects/flux%2Fapps%2Fpodinfo/statuses/" + sha
)

func newNotifier(t *testing.T, fake *gitlabtest.Server) *gitlab.Notifier {
	t.Helper()
	fake.Users[token] = "flux-bot"
	n, err := gitlab.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/" + project + ".git"), Token: token})
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

func assertCalls(t *testing.T, fake *gitlabtest.Server, want ...string) {
	t.Helper()
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

// The requests of §4.3 as client-go v2.64.0 sends them, byte for byte.
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, severity string }{{"success", event.SeverityInfo}, {"failed", event.SeverityError}} {
		t.Run(tc.name, func(t *testing.T) {
			fake := gitlabtest.New(t)
			notifyOK(t, newNotifier(t, fake), notifytest.ReferenceEvent(tc.severity, true))
			reqs := fake.Requests()
			if len(reqs) != 2 {
				t.Fatalf("calls %q", fake.Calls())
			}
			notifytest.AssertGolden(t, "list-statuses", reqs[0])
			notifytest.AssertGolden(t, "set-status-"+tc.name, reqs[1])
		})
	}
}

// Same status twice gives one POST; a state change gives a second.
func TestOnlyChangesAreSet(t *testing.T) {
	fake := gitlabtest.New(t)
	n := newNotifier(t, fake)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, fake, listCall, createCall, listCall)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, fake, listCall, createCall, listCall, listCall, createCall)
	got := fake.Statuses(project, sha)
	if len(got) != 2 || got[0].Status != "success" || got[1].Status != "failed" || got[1].Name != statusID {
		t.Errorf("statuses %+v", got)
	}
	// Flux's rule: any identical status, not only the newest, is a
	// duplicate; success was set before, so it is not set again.
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := fake.Statuses(project, sha); len(got) != 2 {
		t.Errorf("statuses %+v", got)
	}
}

func TestDedup(t *testing.T) {
	tests := []struct {
		name     string
		existing []gitlabtest.Status
		wantPost bool
	}{
		{"none", nil, true},
		{"same", []gitlabtest.Status{{SHA: sha, Status: "success", Name: statusID, Description: "reconciliation succeeded"}}, false},
		{"other state", []gitlabtest.Status{{SHA: sha, Status: "failed", Name: statusID, Description: "reconciliation succeeded"}}, true},
		{"other description", []gitlabtest.Status{{SHA: sha, Status: "success", Name: statusID, Description: "health check failed"}}, true},
		{"older same", []gitlabtest.Status{
			{SHA: sha, Status: "success", Name: statusID, Description: "reconciliation succeeded"},
			{SHA: sha, Status: "failed", Name: statusID, Description: "reconciliation succeeded"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := gitlabtest.New(t)
			for _, st := range tc.existing {
				fake.AddStatus(project, st)
			}
			notifyOK(t, newNotifier(t, fake), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if posted := slices.Contains(fake.Calls(), createCall); posted != tc.wantPost {
				t.Errorf("posted = %v, want %v", posted, tc.wantPost)
			}
		})
	}
}

func TestNoCall(t *testing.T) {
	short := notifytest.ReferenceEvent(event.SeverityInfo, false)
	short.Metadata = map[string]string{"revision": "main@sha1:a1afe26"}
	progressing := notifytest.ReferenceEvent(event.SeverityInfo, true)
	progressing.Reason = "Progressing"
	tests := []struct {
		name    string
		ev      event.Event
		id      string
		wantErr string
	}{
		{"missing revision", notifytest.ReferenceEvent(event.SeverityInfo, false), statusID, "missing revision metadata"},
		{"short commit", short, statusID, "failed to extract commit hash from 'main@sha1:a1afe26' revision"},
		{"progressing is skipped", progressing, statusID, ""},
		{"trace severity", notifytest.ReferenceEvent(event.SeverityTrace, true), statusID, "can't convert to gitlab state"},
		{"empty status id", notifytest.ReferenceEvent(event.SeverityInfo, true), "", "commit status cannot be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := gitlabtest.New(t)
			retry, err := newNotifier(t, fake).NotifyCommitStatus(context.Background(), tc.ev, tc.id)
			if retry || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("retry %v, err %v; want %q", retry, err, tc.wantErr)
			}
			assertCalls(t, fake)
		})
	}
}

// §2.2: an error event without commit metadata still reaches the provider.
func TestErrorEventWithoutCommitMetadata(t *testing.T) {
	fake := gitlabtest.New(t)
	n := newNotifier(t, fake)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	if st := fake.Statuses(project, sha); len(st) != 1 || st[0].Status != "failed" {
		t.Errorf("statuses %+v", st)
	}
}

// A self-hosted server on its own host and port, and the forms of address.
func TestAPIURL(t *testing.T) {
	tests := map[string]string{
		"https://gitlab.com/flux/podinfo":               "https://gitlab.com/api/v4/projects/flux%2Fpodinfo/",
		"git@gitlab.com:flux/apps/podinfo.git":          "https://gitlab.com/api/v4/projects/flux%2Fapps%2Fpodinfo/",
		"ssh://git@gitlab.example.com:2222/a/b/c/d.git": "https://gitlab.example.com:2222/api/v4/projects/a%2Fb%2Fc%2Fd/",
		"http://gitlab.internal:8080/group/sub/repo":    "http://gitlab.internal:8080/api/v4/projects/group%2Fsub%2Frepo/",
	}
	for address, want := range tests {
		var got []string
		client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got = append(got, r.Method+" "+r.URL.String()+" "+r.Header.Get("Private-Token"))
			return &http.Response{StatusCode: http.StatusOK, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})}
		n, err := gitlab.New(notify.Config{UID: uid, Address: notify.Secret(address), Token: token, HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
		wantCalls := []string{
			"GET " + want + "repository/commits/" + sha + "/statuses?name=kustomization%2Fpodinfo%2F0c9c2e41 " + token,
			"POST " + want + "statuses/" + sha + " " + token,
		}
		if !slices.Equal(got, wantCalls) {
			t.Errorf("%s:\n got %q\nwant %q", address, got, wantCalls)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestPasswordAsToken(t *testing.T) {
	fake := gitlabtest.New(t)
	fake.Users[token] = "flux-bot"
	n, err := gitlab.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/" + project), Username: "git", Password: token})
	if err != nil {
		t.Fatal(err)
	}
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ name, address, token, want string }{
		{"no token", "https://gitlab.com/foo/bar", "", "gitlab token cannot be empty"},
		{"local path", notifytest.LeakPathToken + "/repo", token, "invalid repository address: not a git URL with a host"},
		{"no project", "https://gitlab.com/", token, "invalid repository id: the address has no project path"},
		{"ftp", "ftp://gitlab.example.com/" + notifytest.LeakPathToken + "/repo", token, "invalid repository address: a self-hosted server URL must use http, https or ssh"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gitlab.New(notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token)})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The shared retry table: client-go's own retries are off, so each status
// reaches the classifier after one request.
func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		n, err := gitlab.New(notify.Config{UID: uid, Address: notify.Secret(address + "/podinfo"), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// One attempt means one request, whatever the answer.
func TestNoSDKRetries(t *testing.T) {
	for _, code := range []int{429, 500, 502} {
		fake := gitlabtest.New(t)
		fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "1")
			w.Header().Set("RateLimit-Limit", "60")
			w.WriteHeader(code)
			return true
		}
		retry, err := newNotifier(t, fake).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if !retry || err == nil {
			t.Fatalf("%d: retry %v, err %v", code, retry, err)
		}
		if calls := fake.Calls(); len(calls) != 1 {
			t.Errorf("%d: calls %q", code, calls)
		}
	}
}

func TestErrorTexts(t *testing.T) {
	fake := gitlabtest.New(t)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"403 Forbidden"}`))
		return true
	}
	retry, err := newNotifier(t, fake).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	want := "unable to list commit status: GET " + fake.URL + "/api/v4/projects/flux%2Fapps%2Fpodinfo/repository/commits/" + sha + "/statuses: 403 {message: 403 Forbidden}"
	var e *notify.Error
	if retry || !errors.As(err, &e) || e.StatusCode != 403 || err.Error() != want {
		t.Errorf("retry %v, err %v\nwant %s", retry, err, want)
	}
}

// Redirects are followed on the same host only.
func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	fake := gitlabtest.New(t)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.RawPath, "moved") {
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	fake.Users[token] = "flux-bot"
	n, err := gitlab.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/flux/moved"), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if retry || err == nil || !strings.Contains(err.Error(), "refusing to follow a redirect to another host") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	if len(elsewhere.Requests()) != 0 {
		t.Error("the request followed a redirect to another host")
	}
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, gitlab.New, projectPath)
}

// projectPath makes the planted address a project URL: the project path is
// no secret, and GitLab's errors name it.
func projectPath(cfg *notify.Config) {
	if u, err := parseURL(cfg.Address.Reveal()); err == nil && u.Host != "" {
		u.Path = "/flux/podinfo"
		u.RawQuery = ""
		cfg.Address = notify.Secret(u.String())
	}
}
