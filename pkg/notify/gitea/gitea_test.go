package gitea_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/gitea"
	"github.com/heraldhq/herald/pkg/notify/gitea/giteatest"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token    = "gitea-statustoken0123456789abcdef"
	uid      = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	sha      = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	statusID = "kustomization/podinfo/0c9c2e41"
)

var (
	versionCall = "GET /api/v1/version"
	listCall    = "GET /api/v1/repos/flux/podinfo/commits/" + sha + "/statuses?limit=50&page=1"
	createCall  = "POST /api/v1/repos/flux/podinfo/statuses/" + sha
)

func newNotifier(t *testing.T, fake *giteatest.Server) *gitea.Notifier {
	t.Helper()
	fake.Users[token] = "flux-bot"
	n, err := gitea.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/flux/podinfo.git"), Token: token})
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

func assertCalls(t *testing.T, fake *giteatest.Server, want ...string) {
	t.Helper()
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, severity, reason string }{
		{"success", event.SeverityInfo, ""}, {"failure", event.SeverityError, ""}, {"pending", event.SeverityInfo, "Progressing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := giteatest.New(t)
			ev := notifytest.ReferenceEvent(tc.severity, true)
			if tc.reason != "" {
				ev.Reason = tc.reason
			}
			notifyOK(t, newNotifier(t, fake), ev)
			reqs := fake.Requests()
			if len(reqs) != 3 {
				t.Fatalf("calls %q", fake.Calls())
			}
			notifytest.AssertGolden(t, "version", reqs[0])
			notifytest.AssertGolden(t, "list-statuses", reqs[1])
			notifytest.AssertGolden(t, "create-status-"+tc.name, reqs[2])
		})
	}
}

func TestOnlyChangesAreSet(t *testing.T) {
	fake := giteatest.New(t)
	n := newNotifier(t, fake)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, fake, versionCall, listCall, createCall, versionCall, listCall)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, fake, versionCall, listCall, createCall, versionCall, listCall, versionCall, listCall, createCall)
	if got := fake.Statuses("flux", "podinfo", sha); len(got) != 2 || got[0].State != "failure" || got[0].Context != statusID {
		t.Errorf("statuses %+v", got)
	}
}

func TestDedup(t *testing.T) {
	tests := []struct {
		name     string
		existing []giteatest.Status // oldest first
		wantPost bool
	}{
		{"none", nil, true},
		{"same", []giteatest.Status{{State: "success", Description: "reconciliation succeeded", Context: statusID}}, false},
		{"newest differs", []giteatest.Status{
			{State: "success", Description: "reconciliation succeeded", Context: statusID},
			{State: "failure", Description: "reconciliation succeeded", Context: statusID}}, true},
		{"newest empty description ignored", []giteatest.Status{
			{State: "success", Description: "reconciliation succeeded", Context: statusID},
			{State: "failure", Context: statusID}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := giteatest.New(t)
			for _, st := range tc.existing {
				fake.AddStatus("flux", "podinfo", sha, st)
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
	tests := []struct {
		name    string
		ev      event.Event
		id      string
		wantErr string
	}{
		{"missing revision", notifytest.ReferenceEvent(event.SeverityInfo, false), statusID, "missing revision metadata"},
		{"short commit", short, statusID, "failed to extract commit hash from 'main@sha1:a1afe26' revision"},
		{"trace severity", notifytest.ReferenceEvent(event.SeverityTrace, true), statusID, "can't convert to gitea state"},
		{"empty status id", notifytest.ReferenceEvent(event.SeverityInfo, true), "", "commit status cannot be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fake := giteatest.New(t)
			retry, err := newNotifier(t, fake).NotifyCommitStatus(context.Background(), tc.ev, tc.id)
			if retry || err == nil || err.Error() != tc.wantErr {
				t.Errorf("retry %v, err %v; want %q", retry, err, tc.wantErr)
			}
			assertCalls(t, fake)
		})
	}
}

// A server older than the SDK accepts fails after the handshake alone.
func TestOldServer(t *testing.T) {
	fake := giteatest.New(t)
	fake.Version = "1.10.6"
	retry, err := newNotifier(t, fake).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if retry || err == nil || err.Error() != "failed creating Gitea client: gitea server at "+fake.URL+" is older than 1.11.0" {
		t.Errorf("retry %v, err %v", retry, err)
	}
	assertCalls(t, fake, versionCall)
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ name, address, token, want string }{
		{"no token", "https://gitea.example.com/foo/bar", "", "gitea token cannot be empty"},
		{"three segments", "https://gitea.example.com/a/b/" + notifytest.LeakPathToken, token, "invalid repository id: the address path must be <owner>/<repo>"},
		{"local path", notifytest.LeakPathToken + "/repo", token, "invalid repository address: not a git URL with a host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := gitea.New(notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token)})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		n, err := gitea.New(notify.Config{UID: uid, Address: notify.Secret(address + "/podinfo"), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return n
	})
}

// The SDK's calls take no context; the attempt's context still bounds them.
func TestDeadlineBoundsSDKCalls(t *testing.T) {
	release := make(chan struct{})
	sink := notifytest.NewSink(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	n, err := gitea.New(notify.Config{UID: uid, Address: notify.Secret(sink.URL + "/flux/podinfo"), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	retry, err := n.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if !retry || !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("retry %v, err %v", retry, err)
	}
}

func TestRateLimit(t *testing.T) {
	fake := giteatest.New(t)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost {
			return false
		}
		w.Header().Set("Retry-After", "12")
		w.WriteHeader(http.StatusTooManyRequests)
		return true
	}
	retry, err := newNotifier(t, fake).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	var e *notify.Error
	if !retry || !errors.As(err, &e) || e.RetryAfter != 12*time.Second || e.StatusCode != 429 {
		t.Errorf("retry %v, err %#v", retry, err)
	}
}

func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	fake := giteatest.New(t)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "moved") {
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	fake.Users[token] = "flux-bot"
	n, err := gitea.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/flux/moved"), Token: token})
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
	notifytest.AssertNoSecretLeak(t, gitea.New, func(cfg *notify.Config) {
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path, u.RawQuery = "/flux/podinfo", ""
			cfg.Address = notify.Secret(u.String())
		}
	})
}
