package githubcomment_test

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
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/githubcomment"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token  = "ghp_commenttoken0123456789abcdefABCD"
	uid    = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	marker = "<!-- flux-pr-comment-key:" + uid + "/Kustomization/flux-system/podinfo -->"
	appID  = 4242
)

var (
	userCall   = "GET /api/v3/user"
	listCall   = "GET /api/v3/repos/flux/podinfo/issues/7/comments?direction=asc&per_page=100&sort=created"
	createCall = "POST /api/v3/repos/flux/podinfo/issues/7/comments"
	appCall    = "GET /api/v3/app"
	tokenCall  = "POST /api/v3/app/installations/77/access_tokens"
)

func editCall(id int64) string {
	return "PATCH /api/v3/repos/flux/podinfo/issues/comments/" + strconv.FormatInt(id, 10)
}

func newNotifier(t *testing.T, cfg notify.Config, opts ...githubapp.Option) *githubcomment.Notifier {
	t.Helper()
	if cfg.UID == "" {
		cfg.UID = uid
	}
	n, err := githubcomment.New(cfg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

func tokenNotifier(t *testing.T, fake *githubtest.CommentServer) *githubcomment.Notifier {
	t.Helper()
	fake.Token, fake.Login = token, "flux-bot"
	return newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo.git"), Token: token})
}

func prEvent(severity string) event.Event {
	ev := notifytest.ReferenceEvent(severity, true)
	ev.Metadata["change_request"] = "7"
	return ev
}

func notifyOK(t *testing.T, n notify.Notifier, ev event.Event) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), ev); err != nil || retry {
		t.Fatalf("Notify: retry %v, err %v", retry, err)
	}
}

func assertCalls(t *testing.T, fake *githubtest.CommentServer, want ...string) {
	t.Helper()
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Errorf("calls:\n got %q\nwant %q", got, want)
	}
}

// A comment is created, then edited in place on the next event, never
// duplicated; the golden files hold go-github's requests.
func TestCreateThenEdit(t *testing.T) {
	fake := githubtest.NewCommentServer(t)
	n := tokenNotifier(t, fake)
	notifyOK(t, n, prEvent(event.SeverityInfo))
	notifyOK(t, n, prEvent(event.SeverityError))
	comments := fake.Comments("flux", "podinfo", 7)
	if len(comments) != 1 {
		t.Fatalf("comments %+v", comments)
	}
	assertCalls(t, fake, userCall, listCall, createCall, userCall, listCall, editCall(comments[0].ID))
	if c := comments[0]; c.User.Login != "flux-bot" || !strings.HasPrefix(c.Body, marker+"\n\n## Flux Status\n\n\u26a0\ufe0f Kustomization/flux-system/podinfo") {
		t.Errorf("comment %+v", c)
	}
	reqs := fake.Requests()
	notifytest.AssertGolden(t, "user", reqs[0])
	notifytest.AssertGolden(t, "list-comments", reqs[1])
	notifytest.AssertGolden(t, "create-comment", reqs[2])
	notifytest.AssertGolden(t, "edit-comment", reqs[5])
}

// The body is {"body":...} as go-github writes it for Flux: no HTML
// escaping, so the marker stays an HTML comment, and a trailing newline.
func TestBody(t *testing.T) {
	fake := githubtest.NewCommentServer(t)
	notifyOK(t, tokenNotifier(t, fake), prEvent(event.SeverityInfo))
	want := `{"body":"` + marker + `\n\n## Flux Status\n\nℹ️ Kustomization/flux-system/podinfo\n\n` +
		`Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07\n\nMetadata:\n` +
		"* `revision`: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07\\n\"}\n"
	if got := string(fake.Requests()[2].Body); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

// Only a comment by the notifier's own user with this object's marker is
// edited: another user's forged marker and another object's marker are not.
func TestWhichCommentIsEdited(t *testing.T) {
	fake := githubtest.NewCommentServer(t)
	forged := fake.AddComment("flux", "podinfo", 7, githubtest.Comment{Body: marker + "\n\nforged", User: githubtest.User{Login: "mallory"}})
	otherKey := strings.Replace(marker, "podinfo", "other", 1)
	fake.AddComment("flux", "podinfo", 7, githubtest.Comment{Body: otherKey + "\n\nother", User: githubtest.User{Login: "flux-bot"}})
	n := tokenNotifier(t, fake)
	notifyOK(t, n, prEvent(event.SeverityInfo))
	assertCalls(t, fake, userCall, listCall, createCall)
	mine := fake.AddComment("flux", "podinfo", 7, githubtest.Comment{Body: marker + "\n\nlater", User: githubtest.User{Login: "flux-bot"}})
	notifyOK(t, n, prEvent(event.SeverityError))
	comments := fake.Comments("flux", "podinfo", 7)
	// The first of two matching comments, the one created, is edited.
	assertCalls(t, fake, userCall, listCall, createCall, userCall, listCall, editCall(comments[2].ID))
	if comments[0].ID != forged.ID || comments[0].Body != forged.Body || comments[3].ID != mine.ID || comments[3].Body != mine.Body {
		t.Errorf("comments %+v", comments)
	}
}

func TestChangeRequestMetadata(t *testing.T) {
	bad := prEvent(event.SeverityInfo)
	bad.Metadata["change_request"] = "seven"
	for _, tc := range []struct {
		ev   event.Event
		want string
	}{
		{notifytest.ReferenceEvent(event.SeverityInfo, true), `missing "change_request" metadata key`},
		{bad, `invalid "change_request" metadata value "seven": strconv.Atoi: parsing "seven": invalid syntax`},
	} {
		fake := githubtest.NewCommentServer(t)
		retry, err := tokenNotifier(t, fake).Notify(context.Background(), tc.ev)
		if retry || err == nil || err.Error() != tc.want {
			t.Errorf("retry %v, err %v, want %q", retry, err, tc.want)
		}
		assertCalls(t, fake)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  notify.Config
		want string
	}{
		{notify.Config{Address: "https://github.com/flux/podinfo", Token: token}, "provider UID cannot be empty"},
		{notify.Config{UID: uid, Address: "https://github.com/flux/podinfo"}, "github token or github app details must be specified"},
		{notify.Config{UID: uid, Address: "https://github.com/flux", Token: token}, "invalid repository id: the address path must be <owner>/<repo>"},
	} {
		if _, err := githubcomment.New(tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// The password stands in for an empty token, as Flux reads GitHub secrets.
func TestPasswordAsToken(t *testing.T) {
	fake := githubtest.NewCommentServer(t)
	fake.Token, fake.Login = token, "flux-bot"
	notifyOK(t, newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo"), Password: token}), prEvent(event.SeverityInfo))
	if got := fake.Requests()[0].Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization = %q", got)
	}
}

// withPR adds the change request the shared kits' event lacks.
type withPR struct{ n *githubcomment.Notifier }

func (a withPR) Notify(ctx context.Context, ev event.Event) (bool, error) {
	ev.Metadata = map[string]string{"change_request": "7", "revision": notifytest.Revision}
	return a.n.Notify(ctx, ev)
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		// The kit's address ends in /hook: make it /hook/podinfo, a repository.
		return withPR{newNotifier(t, notify.Config{Address: notify.Secret(address + "/podinfo"), Token: token})}
	})
}

// GitHub's rate limits wait for the time their headers give, on any call.
func TestRateLimit(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	reset := strconv.FormatInt(now.Add(2*time.Minute).Unix(), 10)
	fake := githubtest.NewCommentServer(t)
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/comments") {
			return false
		}
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", reset)
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"message":"API rate limit exceeded"}`))
		return true
	}
	n := tokenNotifier(t, fake)
	n.Now = func() time.Time { return now }
	retry, err := n.Notify(context.Background(), prEvent(event.SeverityInfo))
	after, _ := notify.RetryAfter(err)
	want := "failed to list pull request comments: GET " + fake.URL + "/api/v3/repos/flux/podinfo/issues/7/comments?direction=asc&per_page=100&sort=created: 403 API rate limit exceeded"
	if !retry || err == nil || !strings.HasPrefix(err.Error(), want) || after != 2*time.Minute {
		t.Errorf("retry %v, after %v, err %v", retry, after, err)
	}
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
		n, err := githubcomment.New(cfg)
		if err != nil {
			return nil, err
		}
		return withPR{n}, nil
	}, func(cfg *notify.Config) {
		cfg.UID = uid
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path, u.RawQuery = "/flux/podinfo", ""
			cfg.Address = notify.Secret(u.String())
		}
	})
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// appFake is a fake GitHub with an App "herald-app" installed for owner
// "flux" (installation 77), and the App's secret data.
func appFake(t *testing.T) (*githubtest.CommentServer, map[string]notify.Secret, *clock) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	fake := githubtest.NewCommentServer(t)
	clk := &clock{now: time.Now()}
	fake.Now = clk.Now
	fake.AppID, fake.AppKey, fake.AppSlug = appID, &key.PublicKey, "herald-app"
	fake.Installations = map[string]int64{"orgs/flux": 77}
	data := map[string]notify.Secret{
		"githubAppID":             "4242",
		"githubAppInstallationID": "77",
		"githubAppPrivateKey":     notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})),
		"githubAppBaseURL":        notify.Secret(fake.URL + "/api/v3"),
	}
	return fake, data, clk
}

func appNotifier(t *testing.T, fake *githubtest.CommentServer, data map[string]notify.Secret, cache *githubapp.Cache, clk *clock) *githubcomment.Notifier {
	t.Helper()
	return newNotifier(t, notify.Config{Address: notify.Secret(fake.URL + "/flux/podinfo"), SecretData: data},
		githubapp.WithAppCache(cache), githubapp.WithClock(clk.Now))
}

// With a GitHub App, the author is <slug>[bot], the slug coming from
// GET /app with the App JWT (checked by the fake): a comment by a user
// with the marker is not the App's. The installation token is fetched once
// and shared with a second Provider of the same App; the slug is asked
// once per notifier.
func TestAppAuth(t *testing.T) {
	fake, data, clk := appFake(t)
	fake.AddComment("flux", "podinfo", 7, githubtest.Comment{Body: marker + "\n\nby a user", User: githubtest.User{Login: "flux-bot"}})
	cache := githubapp.NewCache()
	n := appNotifier(t, fake, data, cache, clk)
	notifyOK(t, n, prEvent(event.SeverityInfo))
	notifyOK(t, n, prEvent(event.SeverityError))
	other := appNotifier(t, fake, data, cache, clk)
	notifyOK(t, other, prEvent(event.SeverityInfo))
	comments := fake.Comments("flux", "podinfo", 7)
	if len(comments) != 2 || comments[1].User.Login != "herald-app[bot]" || comments[0].Body != marker+"\n\nby a user" {
		t.Fatalf("comments %+v", comments)
	}
	edit := editCall(comments[1].ID)
	assertCalls(t, fake, appCall, tokenCall, listCall, createCall, listCall, edit, appCall, listCall, edit)
	if fake.IssuedTokens() != 1 {
		t.Errorf("%d tokens issued", fake.IssuedTokens())
	}
	reqs := fake.Requests()
	notifytest.AssertGolden(t, "app", withoutAuth(reqs[0]))
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Bearer ghs_fakeinstallationtoken0000000000000001" {
		t.Errorf("API call Authorization = %q", got)
	}
}

// withoutAuth drops the JWT, which changes with every run, from a golden
// request; the fake has checked it.
func withoutAuth(r notifytest.Request) notifytest.Request {
	r.Header = r.Header.Clone()
	r.Header.Del("Authorization")
	return r
}

// A failed slug lookup is retried on the next event, and neither the JWT
// nor the key appears in its error, even when GitHub echoes the request.
func TestAppSlugErrors(t *testing.T) {
	fake, data, clk := appFake(t)
	var jwt string
	fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v3/app" || jwt != "" {
			return false
		}
		jwt = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadGateway)
		_, _ = w.Write([]byte(`{"message":"echo ` + r.Header.Get("Authorization") + `"}`))
		return true
	}
	n := appNotifier(t, fake, data, githubapp.NewCache(), clk)
	retry, err := n.Notify(context.Background(), prEvent(event.SeverityInfo))
	want := "failed to get app information: GET " + fake.URL + "/api/v3/app: 502 echo Bearer *****"
	if !retry || err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("retry %v, err %v\nwant %s", retry, err, want)
	}
	for e := error(err); e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), jwt) || strings.Contains(e.Error(), "PRIVATE KEY") {
			t.Errorf("%q leaks", e.Error())
		}
	}
	notifyOK(t, n, prEvent(event.SeverityInfo))
	assertCalls(t, fake, appCall, appCall, tokenCall, listCall, createCall)
}

// A wrong App key is refused by GitHub: permanent, and nothing is written.
func TestAppWrongKey(t *testing.T) {
	fake, data, clk := appFake(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	data["githubAppPrivateKey"] = notify.Secret(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(other)}))
	retry, err := appNotifier(t, fake, data, githubapp.NewCache(), clk).Notify(context.Background(), prEvent(event.SeverityInfo))
	if retry || err == nil || !strings.Contains(err.Error(), "failed to get app information: GET "+fake.URL+"/api/v3/app: 401 A JSON web token could not be decoded") {
		t.Fatalf("retry %v, err %v", retry, err)
	}
	assertCalls(t, fake, appCall)
}
