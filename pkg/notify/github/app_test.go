package github_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/github"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const appID = 4242

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// appFake is a fake GitHub with an App installed for owner "flux" (as an
// organization, id 77) and returns the App's secret data.
func appFake(t *testing.T, byOwner bool, pkcs8 bool) (*githubtest.Server, map[string]notify.Secret, *clock) {
	t.Helper()
	key := newKey(t)
	fake := githubtest.New(t)
	clk := &clock{now: time.Now()}
	fake.Now = clk.Now
	fake.AppID = appID
	fake.AppKey = &key.PublicKey
	fake.Installations = map[string]int64{"orgs/flux": 77}
	pemData := pemKey(t, key)
	if pkcs8 {
		pemData = pkcs8Key(t, key)
	}
	data := map[string]notify.Secret{
		"githubAppID":         "4242",
		"githubAppPrivateKey": pemData,
		"githubAppBaseURL":    notify.Secret(fake.URL + "/api/v3"),
	}
	if byOwner {
		data["githubAppInstallationOwner"] = "flux"
	} else {
		data["githubAppInstallationID"] = "77"
	}
	return fake, data, clk
}

func appNotifier(t *testing.T, fake *githubtest.Server, data map[string]notify.Secret, cache *githubapp.Cache, clk *clock) *github.Notifier {
	t.Helper()
	return newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo"), SecretData: data},
		githubapp.WithAppCache(cache), githubapp.WithClock(clk.Now))
}

const tokenCall = "POST /api/v3/app/installations/77/access_tokens"

// App auth: the JWT is checked by the fake; the token is fetched once and
// reused by a second delivery and by a second Provider of the same App.
func TestAppAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		byOwner bool
		pkcs8   bool
		lookup  []string
	}{
		{name: "installation id", lookup: nil},
		{name: "installation id, PKCS#8 key", pkcs8: true},
		{name: "installation owner", byOwner: true, lookup: []string{"GET /api/v3/orgs/flux/installation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, data, clk := appFake(t, tc.byOwner, tc.pkcs8)
			cache := githubapp.NewCache()
			n := appNotifier(t, fake, data, cache, clk)
			notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
			notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
			// Another Provider of the same App installation.
			other := appNotifier(t, fake, data, cache, clk)
			notifyOK(t, other, notifytest.ReferenceEvent(event.SeverityInfo, true))
			want := append(slices.Clone(tc.lookup), tokenCall, listCall, createCall, listCall, createCall, listCall, createCall)
			assertCalls(t, fake, want...)
			if fake.IssuedTokens() != 1 {
				t.Errorf("%d tokens issued", fake.IssuedTokens())
			}
			reqs := fake.Requests()
			tokenReq := reqs[len(tc.lookup)]
			// go-github sends a nil options struct as JSON null.
			if string(tokenReq.Body) != "null\n" || tokenReq.Header.Get("Content-Type") != "application/json" {
				t.Errorf("token request body %q, Content-Type %q", tokenReq.Body, tokenReq.Header.Get("Content-Type"))
			}
			if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer ghs_fakeinstallationtoken0000000000000001" {
				t.Errorf("API call Authorization = %q", got)
			}
		})
	}
}

// A token is replaced shortly before it expires, and the owner's
// installation is looked up once.
func TestAppTokenRefresh(t *testing.T) {
	fake, data, clk := appFake(t, true, false)
	n := appNotifier(t, fake, data, githubapp.NewCache(), clk)
	ev := notifytest.ReferenceEvent(event.SeverityInfo, true)
	notifyOK(t, n, ev)
	clk.Add(time.Hour - githubapp.DefaultMargin - time.Second)
	notifyOK(t, n, ev)
	if fake.IssuedTokens() != 1 {
		t.Fatalf("%d tokens issued before the margin", fake.IssuedTokens())
	}
	clk.Add(2 * time.Second)
	notifyOK(t, n, ev)
	if fake.IssuedTokens() != 2 {
		t.Fatalf("%d tokens issued after the margin", fake.IssuedTokens())
	}
	assertCalls(t, fake, "GET /api/v3/orgs/flux/installation", tokenCall, listCall, createCall, listCall, tokenCall, listCall)
}

// The owner is tried as an organization, then as a user, as Flux does.
func TestAppUserInstallation(t *testing.T) {
	fake, data, clk := appFake(t, true, false)
	fake.Installations = map[string]int64{"users/flux": 77}
	notifyOK(t, appNotifier(t, fake, data, githubapp.NewCache(), clk), notifytest.ReferenceEvent(event.SeverityInfo, true))
	assertCalls(t, fake, "GET /api/v3/orgs/flux/installation", "GET /api/v3/users/flux/installation", tokenCall, listCall, createCall)

	fake.Installations = map[string]int64{}
	data["githubAppInstallationOwner"] = "nobody"
	retry, err := appNotifier(t, fake, data, githubapp.NewCache(), clk).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	want := "could not get a GitHub App installation token: failed to find organization installation: GET " + fake.URL +
		"/api/v3/orgs/nobody/installation: 404 Not Found []\nfailed to find user installation: GET " + fake.URL + "/api/v3/users/nobody/installation: 404 Not Found []"
	if retry || err == nil || err.Error() != want {
		t.Errorf("retry %v, err %v\nwant %s", retry, err, want)
	}
}

// No JWT, App key or installation token appears in errors or logs, even
// when the server echoes the request's headers.
func TestAppNoSecretLeak(t *testing.T) {
	fake, data, clk := appFake(t, false, false)
	logs := captureLogs(t)
	var seen []string
	var mu sync.Mutex
	echoAuth := func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
		mu.Unlock()
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"message":"echo ` + r.Header.Get("Authorization") + `"}`))
	}
	// The token endpoint echoes the JWT.
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.HasSuffix(r.URL.Path, "/access_tokens") {
			echoAuth(w, r)
			return true
		}
		return false
	}
	n := appNotifier(t, fake, data, githubapp.NewCache(), clk)
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || !retry || !strings.Contains(err.Error(), "echo Bearer *****") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	// The API echoes the installation token.
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if strings.Contains(r.URL.Path, "/statuses") {
			echoAuth(w, r)
			return true
		}
		return false
	}
	retry, err2 := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err2 == nil || !retry || !strings.Contains(err2.Error(), "echo Bearer *****") {
		t.Fatalf("retry %v, err %v", retry, err2)
	}
	if len(seen) != 2 || !strings.HasPrefix(seen[1], "ghs_") {
		t.Fatalf("seen %q", seen)
	}
	texts := []string{err.Error(), err2.Error(), logs.String()}
	for _, text := range texts {
		for _, secret := range append(seen, data["githubAppPrivateKey"].Reveal(), "MII") {
			if strings.Contains(text, secret) {
				t.Errorf("%q leaks %q", text, secret)
			}
		}
	}
}
