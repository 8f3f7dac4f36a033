package azuredevops_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/azuredevops"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	pat      = "azdopat0123456789abcdefghijklmnopqrstuvwxyz0123"
	uid      = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	sha      = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	statusID = "kustomization/podinfo/0c9c2e41"
)

var (
	discovery  = "OPTIONS /flux-org/_apis"
	listCall   = "GET /flux-org/platform/_apis/git/repositories/podinfo/commits/" + sha + "/statuses"
	createCall = "POST /flux-org/platform/_apis/git/repositories/podinfo/commits/" + sha + "/statuses"
)

func newNotifier(t *testing.T, address string) *azuredevops.Notifier {
	t.Helper()
	n, err := azuredevops.New(notify.Config{UID: uid, Address: notify.Secret(address), Token: pat})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func fakeNotifier(t *testing.T, f *fake) *azuredevops.Notifier {
	return newNotifier(t, f.URL+"/flux-org/platform/_git/podinfo")
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

var goVersion = regexp.MustCompile(`^go/\S+ \(\S+ \S+\) `)

// stable replaces what the SDK varies per build and process: the Go
// version and platform in User-Agent, and the random session id.
func stable(r notifytest.Request) notifytest.Request {
	r.Header = r.Header.Clone()
	r.Header.Set("User-Agent", goVersion.ReplaceAllString(r.Header.Get("User-Agent"), "go/<version> (<os> <arch>) "))
	r.Header.Set("X-Tfs-Session", "<session>")
	return r
}

// The requests of §4.3 as the Azure DevOps Go API v7 sends them: location
// discovery, the list and the create, with the body byte for byte.
func TestGolden(t *testing.T) {
	for _, tc := range []struct{ name, severity string }{{"success", event.SeverityInfo}, {"failure", event.SeverityError}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "flux-org", pat)
			notifyOK(t, fakeNotifier(t, f), notifytest.ReferenceEvent(tc.severity, true))
			assertCalls(t, f, discovery, listCall, createCall)
			reqs := f.Requests()
			notifytest.AssertGolden(t, "discover-locations", stable(reqs[0]))
			notifytest.AssertGolden(t, "list-statuses", stable(reqs[1]))
			notifytest.AssertGolden(t, "create-status-"+tc.name, stable(reqs[2]))
		})
	}
}

// The SDK's json.Marshal: HTML escaped, no newline; the genre carries the
// summary metadata.
func TestCreateBody(t *testing.T) {
	f := newFake(t, "flux-org", pat)
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = "HealthCheckFailed"
	ev.InvolvedObject.Name = "a<b>&c"
	ev.Metadata["summary"] = "prod cluster"
	notifyOK(t, fakeNotifier(t, f), ev)
	want := `{"context":{"genre":"fluxcd:prod cluster","name":"kustomization/a\u003cb\u003e\u0026c/0c9c2e41"},"description":"health check failed","state":"error"}`
	if got := string(f.Requests()[2].Body); got != want {
		t.Errorf("body %s\nwant %s", got, want)
	}
}

// Same status twice gives one POST; a state change gives a second.
// Discovery happens once per process and organization.
func TestOnlyChangesAreSet(t *testing.T) {
	f := newFake(t, "flux-org", pat)
	n := fakeNotifier(t, f)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	notifyOK(t, fakeNotifier(t, f), notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, f, discovery, listCall, createCall, listCall)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	assertCalls(t, f, discovery, listCall, createCall, listCall, listCall, createCall)
	got := f.statusesOf("platform", "podinfo", sha)
	if len(got) != 2 || got[0].State != "error" || got[1].State != "succeeded" || got[0].Context.Name != statusID || got[0].Context.Genre != "fluxcd" {
		t.Errorf("statuses %+v", got)
	}
}

// Flux's duplicateAzureDevOpsStatus: the first status with the same name
// and genre decides.
func TestDedup(t *testing.T) {
	ok := func(genre, state, desc string) fakeStatus {
		return fakeStatus{State: state, Description: desc, Context: &fakeContext{Genre: genre, Name: statusID}}
	}
	tests := []struct {
		name     string
		existing []fakeStatus // oldest first
		summary  string
		wantPost bool
	}{
		{"none", nil, "", true},
		{"same", []fakeStatus{ok("fluxcd", "succeeded", "reconciliation succeeded")}, "", false},
		{"other state", []fakeStatus{ok("fluxcd", "error", "reconciliation succeeded")}, "", true},
		{"other description", []fakeStatus{ok("fluxcd", "succeeded", "x")}, "", true},
		{"other genre only", []fakeStatus{ok("ci", "succeeded", "reconciliation succeeded")}, "", true},
		{"summary genre", []fakeStatus{ok("fluxcd:prod", "succeeded", "reconciliation succeeded")}, "prod", false},
		{"newest differs", []fakeStatus{ok("fluxcd", "succeeded", "reconciliation succeeded"), ok("fluxcd", "error", "reconciliation succeeded")}, "", true},
		{"newest same", []fakeStatus{ok("fluxcd", "error", "x"), ok("fluxcd", "succeeded", "reconciliation succeeded")}, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "flux-org", pat)
			for _, s := range tc.existing {
				f.add("platform", "podinfo", sha, s)
			}
			ev := notifytest.ReferenceEvent(event.SeverityInfo, true)
			if tc.summary != "" {
				ev.Metadata["summary"] = tc.summary
			}
			notifyOK(t, fakeNotifier(t, f), ev)
			if posted := slices.Contains(f.Calls(), createCall); posted != tc.wantPost {
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
		{"trace severity", trace, statusID, "can't convert to azure devops state"},
		{"empty status id", notifytest.ReferenceEvent(event.SeverityInfo, true), "", "commit status cannot be empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "flux-org", pat)
			retry, err := fakeNotifier(t, f).NotifyCommitStatus(context.Background(), tc.ev, tc.id)
			if retry || (err == nil) != (tc.wantErr == "") || err != nil && err.Error() != tc.wantErr {
				t.Errorf("retry %v, err %v; want %q", retry, err, tc.wantErr)
			}
			assertCalls(t, f)
		})
	}
}

func TestStatusIDFromDispatcher(t *testing.T) {
	f := newFake(t, "flux-org", pat)
	var n commitstatus.StatusNotifier = fakeNotifier(t, f)
	if _, err := n.NotifyCommitStatus(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true), "prod/podinfo"); err != nil {
		t.Fatal(err)
	}
	if st := f.statusesOf("platform", "podinfo", sha); len(st) != 1 || st[0].Context.Name != "prod/podinfo" {
		t.Errorf("statuses %+v", st)
	}
}

// A self-hosted Azure DevOps Server under a virtual directory is not
// supported by Flux's four-segment rule; a server at the root with its
// collection as the "organization" is, on any scheme and port.
func TestSelfHosted(t *testing.T) {
	f := newFake(t, "defaultcollection", pat)
	notifyOK(t, newNotifier(t, f.URL+"/DefaultCollection/platform/_git/podinfo"), notifytest.ReferenceEvent(event.SeverityInfo, true))
	// The SDK lowercases the organization URL, as in Flux.
	assertCalls(t, f, "OPTIONS /defaultcollection/_apis",
		"GET /defaultcollection/platform/_apis/git/repositories/podinfo/commits/"+sha+"/statuses",
		"POST /defaultcollection/platform/_apis/git/repositories/podinfo/commits/"+sha+"/statuses")
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name  string
		cfg   notify.Config
		want  string
		isErr error
	}{
		{name: "no PAT", cfg: notify.Config{Address: "https://dev.azure.com/org/proj/_git/repo"}, isErr: azuredevops.ErrWorkloadIdentity,
			want: "azure devops token cannot be empty: Herald needs a personal access token; Flux's fallback to AKS workload identity cannot work outside AKS"},
		{name: "password is no PAT", cfg: notify.Config{Address: "https://dev.azure.com/org/proj/_git/repo", Username: "u", Password: pat}, isErr: azuredevops.ErrWorkloadIdentity},
		{name: "three segments", cfg: notify.Config{Address: "https://dev.azure.com/org/proj/" + notifytest.LeakPathToken, Token: pat},
			want: "invalid repository id: the address path must be <organization>/<project>/_git/<repository>"},
		{name: "five segments", cfg: notify.Config{Address: "https://dev.azure.com/org/proj/_git/repo/" + notifytest.LeakPathToken, Token: pat},
			want: "invalid repository id: the address path must be <organization>/<project>/_git/<repository>"},
		{name: "local path", cfg: notify.Config{Address: notify.Secret(notifytest.LeakPathToken + "/a/_git/b"), Token: pat},
			want: "invalid repository address: not a git URL with a host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := azuredevops.New(tc.cfg)
			if err == nil || tc.want != "" && err.Error() != tc.want || tc.isErr != nil && !errors.Is(err, tc.isErr) {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// The shared status table, answered to the list (and to the create when
// the list succeeds) after a real discovery: the kit's own sink cannot
// answer the SDK's OPTIONS with resource locations.
func TestRetry(t *testing.T) {
	for _, tc := range notifytest.RetryTests() {
		t.Run(tc.Name, func(t *testing.T) {
			f := newFake(t, "flux-org", pat)
			f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method == http.MethodOptions {
					return false
				}
				if tc.RetryAfter != "" {
					w.Header().Set("Retry-After", tc.RetryAfter)
				}
				w.WriteHeader(tc.Status)
				_, _ = w.Write([]byte("answer body"))
				return true
			}
			retry, err := fakeNotifier(t, f).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if (err != nil) != tc.WantErr || retry != tc.WantRetry {
				t.Fatalf("retry %v, err %v", retry, err)
			}
			if err == nil {
				return
			}
			var e *notify.Error
			if !errors.As(err, &e) || e.StatusCode != tc.Status {
				t.Fatalf("err %#v", err)
			}
			if d := e.RetryAfter - tc.WantRetryAfter; d < -tc.Tolerance || d > 0 {
				t.Errorf("RetryAfter = %v, want %v", e.RetryAfter, tc.WantRetryAfter)
			}
		})
	}
	t.Run("connection refused", func(t *testing.T) {
		n := newNotifier(t, notifytest.ClosedAddress(t)+"/org/proj/_git/repo")
		retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if !retry || err == nil || !strings.HasPrefix(err.Error(), "could not list commit statuses: OPTIONS request failed: ") {
			t.Fatalf("retry %v, err %v", retry, err)
		}
	})
}

// The SDK makes one request per call: a 503 is not retried inside it, and
// its Retry-After reaches the error.
func TestOneAttempt(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		t.Run(method, func(t *testing.T) {
			f := newFake(t, "flux-org", pat)
			f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != method {
					return false
				}
				w.Header().Set("Retry-After", "11")
				writeJSON(w, http.StatusServiceUnavailable, wrappedError("TF400898: An Internal Error Occurred."))
				return true
			}
			retry, err := fakeNotifier(t, f).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			prefix := map[string]string{http.MethodGet: "could not list commit statuses: ", http.MethodPost: "could not create commit status: "}[method]
			var e *notify.Error
			if !retry || !errors.As(err, &e) || e.StatusCode != 503 || e.RetryAfter != 11*time.Second ||
				err.Error() != prefix+"TF400898: An Internal Error Occurred." {
				t.Fatalf("retry %v, err %#v", retry, err)
			}
			n := 0
			for _, c := range f.Calls() {
				if strings.HasPrefix(c, method+" ") {
					n++
				}
			}
			if n != 1 {
				t.Errorf("calls %q", f.Calls())
			}
		})
	}
}

func TestBadPAT(t *testing.T) {
	f := newFake(t, "flux-org", "another-pat")
	retry, err := fakeNotifier(t, f).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	var e *notify.Error
	if retry || !errors.As(err, &e) || e.StatusCode != 401 || !strings.HasPrefix(err.Error(), "could not list commit statuses: ") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	assertCalls(t, f, discovery)
}

func TestRedirects(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	f := newFake(t, "flux-org", pat)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.Contains(r.URL.Path, "/repositories/old-name/"):
			http.Redirect(w, r, strings.Replace(r.URL.RequestURI(), "old-name", "podinfo", 1), http.StatusTemporaryRedirect)
			return true
		case strings.Contains(r.URL.Path, "/repositories/moved/"):
			http.Redirect(w, r, elsewhere.URL+"/steal", http.StatusTemporaryRedirect)
			return true
		}
		return false
	}
	notifyOK(t, newNotifier(t, f.URL+"/flux-org/platform/_git/old-name"), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if st := f.statusesOf("platform", "podinfo", sha); len(st) != 1 {
		t.Errorf("calls %q", f.Calls())
	}
	retry, err := newNotifier(t, f.URL+"/flux-org/platform/_git/moved").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || retry || err.Error() != "could not list commit statuses: GET request failed: refusing to follow a redirect to another host: 307 Temporary Redirect to "+elsewhere.URL {
		t.Fatalf("cross-host redirect: retry = %v, err = %v", retry, err)
	}
	if len(elsewhere.Requests()) != 0 {
		t.Error("the request followed a redirect to another host")
	}
}

func TestTimeout(t *testing.T) {
	release := make(chan struct{})
	f := newFake(t, "flux-org", pat)
	f.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			<-release
			return true
		}
		return false
	}
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	retry, err := fakeNotifier(t, f).Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if !retry || !errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), pat) || strings.Contains(err.Error(), f.URL) {
		t.Fatalf("retry = %v, err = %v", retry, err)
	}
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, azuredevops.New, func(cfg *notify.Config) {
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			// Four segments; the planted path token is the organization.
			u.Path = "/" + notifytest.LeakPathToken + "/proj/_git/repo"
			cfg.Address = notify.Secret(u.String())
		}
	})
}
