package githubapp_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
)

const (
	appID          = 4242
	installationID = 77
	// tokenPath is where the fake issues installation 77's tokens.
	tokenPath = githubtest.Prefix + "/app/installations/77/access_tokens"
	tokenCall = "POST " + tokenPath
	orgCall   = "GET " + githubtest.Prefix + "/orgs/flux/installation"
	userCall  = "GET " + githubtest.Prefix + "/users/flux/installation"
	// The tokens the fake issues, in order.
	firstToken  = "ghs_fakeinstallationtoken0000000000000001"
	secondToken = "ghs_fakeinstallationtoken0000000000000002"
)

// start is the tests' time: whole seconds, far from the real clock, so
// that nothing can pass by reading time.Now instead of the injected clock.
var start = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// clock is a settable clock shared by the fake and the code under test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: start} }

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

// testKeys are the App's key and another one, generated once: RSA key
// generation is slow under -race.
var testKeys = sync.OnceValue(func() [2]*rsa.PrivateKey {
	var keys [2]*rsa.PrivateKey
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func appKey() *rsa.PrivateKey   { return testKeys()[0] }
func otherKey() *rsa.PrivateKey { return testKeys()[1] }

func pkcs1PEM(k *rsa.PrivateKey) notify.Secret {
	return notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func pkcs8PEM(t testing.TB, k any) notify.Secret {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func ecPEM(t testing.TB) notify.Secret {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pkcs8PEM(t, k)
}

// fixture is a fake GitHub with the App installed on organization "flux"
// as installation 77, on a clock of its own.
type fixture struct {
	fake *githubtest.Server
	clk  *clock
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureOn(githubtest.New(t))
}

// newFixtureOn is newFixture on a fake already started, such as a
// githubtest.CommentServer's.
func newFixtureOn(fake *githubtest.Server) *fixture {
	f := &fixture{fake: fake, clk: newClock()}
	f.fake.Now = f.clk.Now
	f.fake.AppID = appID
	f.fake.AppKey = &appKey().PublicKey
	f.fake.Installations = map[string]int64{"orgs/flux": installationID}
	return f
}

// base is the fake's API base, as githubAppBaseURL gives it.
func (f *fixture) base() string { return f.fake.URL + githubtest.Prefix }

// config is the App's config for installation 77.
func (f *fixture) config() githubapp.Config {
	return githubapp.Config{AppID: appID, InstallationID: installationID, PrivateKey: pkcs1PEM(appKey()), BaseURL: f.base()}
}

// source builds a Source for cfg on the fixture's clock.
func (f *fixture) source(t *testing.T, cfg githubapp.Config, cache *githubapp.Cache) *githubapp.Source {
	t.Helper()
	s, err := githubapp.New(cfg, f.fake.Client(), cache)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	s.Now = f.clk.Now
	return s
}

// secretData is the App's part of a Provider secret.
func (f *fixture) secretData() map[string]notify.Secret {
	return map[string]notify.Secret{
		githubapp.KeyAppID:             "4242",
		githubapp.KeyAppInstallationID: "77",
		githubapp.KeyAppPrivateKey:     pkcs1PEM(appKey()),
		githubapp.KeyAppBaseURL:        notify.Secret(f.base()),
	}
}

// fail answers path with code, headers (name, value pairs) and body, and
// leaves every other request to the fake.
func (f *fixture) fail(path string, code int, body string, header ...string) {
	f.fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != path {
			return false
		}
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(body))
		return true
	}
}

// classified returns err as a *notify.Error, failing the test otherwise.
func classified(t *testing.T, err error) *notify.Error {
	t.Helper()
	var e *notify.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T (%v) is not a *notify.Error", err, err)
	}
	return e
}

// assertNoSecret checks err's text in every format, and that of every
// error it wraps, since a caller may log any of them.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, text := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
			for _, s := range secrets {
				if s != "" && strings.Contains(text, s) {
					t.Errorf("error leaks %.20q…: %s", s, text)
				}
			}
		}
	}
}

// keyFragments are the PEM text of a key and each of its base64 lines.
func keyFragments(pemKey notify.Secret) []string {
	frags := []string{pemKey.Reveal()}
	for line := range strings.SplitSeq(pemKey.Reveal(), "\n") {
		if line != "" && !strings.HasPrefix(line, "-----") {
			frags = append(frags, line)
		}
	}
	return frags
}
