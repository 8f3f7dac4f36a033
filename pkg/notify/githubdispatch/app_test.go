package githubdispatch_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/githubdispatch"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	appID        = 4242
	tokenCall    = "POST /api/v3/app/installations/77/access_tokens"
	dispatchCall = "POST /api/v3/repos/flux/podinfo/dispatches"
	firstToken   = "ghs_fakeinstallationtoken0000000000000001"
)

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

// appFake is githubtest's fake GitHub, which checks the App JWT and issues
// installation tokens, with an App installed for owner "flux" (as an
// organization, id 77). The fake plays no dispatch endpoint, so the
// returned function answers dispatches with 204 and records the
// Authorization each one carried.
func appFake(t *testing.T, byOwner bool) (*githubtest.Server, map[string]notify.Secret, *clock, func() []string) {
	t.Helper()
	key := newKey(t)
	fake := githubtest.New(t)
	clk := &clock{now: time.Now()}
	fake.Now = clk.Now
	fake.AppID = appID
	fake.AppKey = &key.PublicKey
	fake.Installations = map[string]int64{"orgs/flux": 77}
	var (
		mu   sync.Mutex
		auth []string
	)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/dispatches") {
			return false
		}
		mu.Lock()
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return true
	}
	data := map[string]notify.Secret{
		"githubAppID":         "4242",
		"githubAppPrivateKey": pemKey(t, key),
		"githubAppBaseURL":    notify.Secret(fake.URL + "/api/v3"),
	}
	if byOwner {
		data["githubAppInstallationOwner"] = "flux"
	} else {
		data["githubAppInstallationID"] = "77"
	}
	return fake, data, clk, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(auth)
	}
}

func appNotifier(t *testing.T, fake *githubtest.Server, data map[string]notify.Secret, cache *githubapp.Cache, clk *clock) *githubdispatch.Notifier {
	t.Helper()
	return newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo"), SecretData: data},
		githubapp.WithAppCache(cache), githubapp.WithClock(clk.Now))
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

// App auth as the github provider does it: the fake checks the JWT; the
// installation token is fetched once and reused by a second delivery and
// by a second Provider of the same App; the dispatch is the token's.
func TestAppAuth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		byOwner bool
		lookup  []string
	}{
		{name: "installation id"},
		{name: "installation owner", byOwner: true, lookup: []string{"GET /api/v3/orgs/flux/installation"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, data, clk, auth := appFake(t, tc.byOwner)
			cache := githubapp.NewCache()
			n := appNotifier(t, fake, data, cache, clk)
			notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
			notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
			other := appNotifier(t, fake, data, cache, clk)
			notifyOK(t, other, notifytest.ReferenceEvent(event.SeverityInfo, true))

			assertCalls(t, fake, append(slices.Clone(tc.lookup), tokenCall, dispatchCall, dispatchCall, dispatchCall)...)
			if fake.IssuedTokens() != 1 {
				t.Errorf("%d tokens issued", fake.IssuedTokens())
			}
			if got, want := auth(), slices.Repeat([]string{"Bearer " + firstToken}, 3); !slices.Equal(got, want) {
				t.Errorf("dispatch Authorization %q, want %q", got, want)
			}
			reqs := fake.Requests()
			if got := string(reqs[len(reqs)-1].Body); got != referenceBody {
				t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
			}
		})
	}
}

// A token is replaced shortly before it expires; the owner's installation
// is looked up once.
func TestAppTokenRefresh(t *testing.T) {
	fake, data, clk, auth := appFake(t, true)
	n := appNotifier(t, fake, data, githubapp.NewCache(), clk)
	ev := notifytest.ReferenceEvent(event.SeverityInfo, true)
	notifyOK(t, n, ev)
	clk.Add(time.Hour - githubapp.DefaultMargin - time.Second)
	notifyOK(t, n, ev)
	clk.Add(2 * time.Second)
	notifyOK(t, n, ev)
	assertCalls(t, fake, "GET /api/v3/orgs/flux/installation", tokenCall, dispatchCall, dispatchCall, tokenCall, dispatchCall)
	want := []string{"Bearer " + firstToken, "Bearer " + firstToken, "Bearer ghs_fakeinstallationtoken0000000000000002"}
	if got := auth(); !slices.Equal(got, want) {
		t.Errorf("dispatch Authorization %q, want %q", got, want)
	}
}

// An owner with no installation is permanent, with Flux's lookup texts
// after githubdispatch's prefix.
func TestAppNoInstallation(t *testing.T) {
	fake, data, clk, _ := appFake(t, true)
	fake.Installations = map[string]int64{}
	retry, err := appNotifier(t, fake, data, githubapp.NewCache(), clk).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	want := "Could not send github repository dispatch webhook: could not get a GitHub App installation token: " +
		"failed to find organization installation: GET " + fake.URL + "/api/v3/orgs/flux/installation: 404 Not Found []\n" +
		"failed to find user installation: GET " + fake.URL + "/api/v3/users/flux/installation: 404 Not Found []"
	if retry || err == nil || err.Error() != want {
		t.Errorf("retry %v, err %v\nwant %s", retry, err, want)
	}
}

// No JWT, App key or installation token appears in errors, even when the
// server echoes the request's Authorization; both failures are retried.
func TestAppNoSecretLeak(t *testing.T) {
	fake, data, clk, _ := appFake(t, false)
	var (
		mu   sync.Mutex
		seen []string
	)
	echo := func(suffix string) func(http.ResponseWriter, *http.Request) bool {
		return func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, suffix) {
				return false
			}
			mu.Lock()
			seen = append(seen, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
			mu.Unlock()
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte(`{"message":"echo ` + r.Header.Get("Authorization") + `"}`))
			return true
		}
	}
	n := appNotifier(t, fake, data, githubapp.NewCache(), clk)
	fake.Intercept = echo("/access_tokens")
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || !retry || !strings.Contains(err.Error(), "echo Bearer *****") ||
		!strings.HasPrefix(err.Error(), "Could not send github repository dispatch webhook: could not get a GitHub App installation token: ") {
		t.Fatalf("token call: retry %v, err %v", retry, err)
	}
	fake.Intercept = echo("/dispatches")
	retry, err2 := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err2 == nil || !retry || !strings.Contains(err2.Error(), "echo Bearer *****") {
		t.Fatalf("dispatch: retry %v, err %v", retry, err2)
	}
	if len(seen) != 2 || !strings.HasPrefix(seen[1], "ghs_") {
		t.Fatalf("seen %q", seen)
	}
	for _, text := range []string{err.Error(), err2.Error()} {
		for _, secret := range append(seen, data["githubAppPrivateKey"].Reveal(), "MII") {
			if strings.Contains(text, secret) {
				t.Errorf("%q leaks %q", text, secret)
			}
		}
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
