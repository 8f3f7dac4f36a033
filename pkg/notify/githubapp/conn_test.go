package githubapp_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/redirect"
)

const (
	pat = "ghp_personalaccesstoken0123456789"
	sha = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	// listCall is the API call the tests make through a Conn.
	listCall = "GET " + githubtest.Prefix + "/repos/flux/podinfo/commits/" + sha + "/statuses?per_page=50"
)

// connect connects to the fixture's flux/podinfo on its clock, with a cache
// of the test's own.
func (f *fixture) connect(t *testing.T, cfg notify.Config) *githubapp.Conn {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = notify.Secret(f.fake.URL + "/flux/podinfo")
	}
	conn, err := githubapp.Connect(cfg, githubapp.WithAppCache(githubapp.NewCache()), githubapp.WithClock(f.clk.Now))
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	return conn
}

// list makes an API call through conn.
func list(ctx context.Context, conn *githubapp.Conn) error {
	_, _, err := conn.Client.Repositories.ListStatuses(ctx, "flux", "podinfo", sha, &gh.ListOptions{PerPage: 50})
	return err
}

// The token (or password) wins; without either the App's keys are used,
// and the API call carries the App's installation token.
func TestConnectAuth(t *testing.T) {
	pkcs8 := pkcs8PEM(t, appKey())
	for _, tc := range []struct {
		name     string
		cfg      func(f *fixture) notify.Config
		wantApp  bool
		wantAuth string
		calls    []string
	}{
		{
			name:     "token",
			cfg:      func(*fixture) notify.Config { return notify.Config{Token: pat} },
			wantAuth: "Bearer " + pat, calls: []string{listCall},
		},
		{
			name:     "password",
			cfg:      func(*fixture) notify.Config { return notify.Config{Username: "git", Password: pat} },
			wantAuth: "Bearer " + pat, calls: []string{listCall},
		},
		{
			name:     "token over password",
			cfg:      func(*fixture) notify.Config { return notify.Config{Token: pat, Password: "not-this-one"} },
			wantAuth: "Bearer " + pat, calls: []string{listCall},
		},
		{
			name:     "token over App",
			cfg:      func(f *fixture) notify.Config { return notify.Config{Token: pat, SecretData: f.secretData()} },
			wantAuth: "Bearer " + pat, calls: []string{listCall},
		},
		{
			name:    "App installation id",
			cfg:     func(f *fixture) notify.Config { return notify.Config{SecretData: f.secretData()} },
			wantApp: true, wantAuth: "Bearer " + firstToken, calls: []string{tokenCall, listCall},
		},
		{
			name: "App installation owner",
			cfg: func(f *fixture) notify.Config {
				data := f.secretData()
				delete(data, githubapp.KeyAppInstallationID)
				data[githubapp.KeyAppInstallationOwner] = "flux"
				return notify.Config{SecretData: data}
			},
			wantApp: true, wantAuth: "Bearer " + firstToken, calls: []string{orgCall, tokenCall, listCall},
		},
		{
			name: "App key in PKCS#8",
			cfg: func(f *fixture) notify.Config {
				data := f.secretData()
				data[githubapp.KeyAppPrivateKey] = pkcs8
				return notify.Config{SecretData: data}
			},
			wantApp: true, wantAuth: "Bearer " + firstToken, calls: []string{tokenCall, listCall},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.fake.Token = pat
			conn := f.connect(t, tc.cfg(f))
			if (conn.App != nil) != tc.wantApp {
				t.Errorf("App = %v, want App: %v", conn.App, tc.wantApp)
			}
			wantRepo := commitstatus.GitHubRepo{Owner: "flux", Repo: "podinfo", APIBase: f.fake.URL + "/api/v3/", Enterprise: true}
			if conn.Repo != wantRepo {
				t.Errorf("Repo = %+v, want %+v", conn.Repo, wantRepo)
			}
			if err := list(context.Background(), conn); err != nil {
				t.Fatalf("API call: %v", err)
			}
			if got := f.fake.Calls(); !slices.Equal(got, tc.calls) {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
			reqs := f.fake.Requests()
			if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != tc.wantAuth {
				t.Errorf("Authorization = %q, want %q", got, tc.wantAuth)
			}
		})
	}
}

// Connect refuses incomplete App keys and bad addresses with Flux's texts,
// which name no value.
func TestConnectErrors(t *testing.T) {
	key := pkcs1PEM(appKey())
	app := func(kv ...string) map[string]notify.Secret {
		data := map[string]notify.Secret{githubapp.KeyAppPrivateKey: key}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				delete(data, kv[i])
				continue
			}
			data[kv[i]] = notify.Secret(kv[i+1])
		}
		return data
	}
	const (
		id    = githubapp.KeyAppID
		inst  = githubapp.KeyAppInstallationID
		owner = githubapp.KeyAppInstallationOwner
		pk    = githubapp.KeyAppPrivateKey
		base  = githubapp.KeyAppBaseURL
	)
	const badKey = "could not parse private key: invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key"
	const badBase = "invalid API URL: githubAppBaseURL must be an http(s) URL"
	for _, tc := range []struct {
		name    string
		cfg     notify.Config
		wantErr string
	}{
		{name: "no token and no App", cfg: notify.Config{}, wantErr: "github token or github app details must be specified"},
		{name: "App keys without an ID", cfg: notify.Config{SecretData: app(inst, "77")}, wantErr: "github token or github app details must be specified"},
		{name: "ID not a number", cfg: notify.Config{SecretData: app(id, "app", inst, "77")}, wantErr: "app ID must be provided to use github app authentication"},
		{name: "ID 0", cfg: notify.Config{SecretData: app(id, "0", inst, "77")}, wantErr: "app ID must be provided to use github app authentication"},
		{name: "no installation", cfg: notify.Config{SecretData: app(id, "4242")}, wantErr: "app installation owner or ID must be provided to use github app authentication"},
		{name: "installation id not a number", cfg: notify.Config{SecretData: app(id, "4242", inst, "x")}, wantErr: "app installation owner or ID must be provided to use github app authentication"},
		{
			name: "installation id and owner", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", owner, "flux")},
			wantErr: "only one of app installation owner or ID must be provided to use github app authentication",
		},
		{name: "no key", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", pk, "")}, wantErr: "private key must be provided to use github app authentication"},
		{name: "key not PEM", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", pk, "s3cr3t-not-a-pem-key-0123456789")}, wantErr: badKey},
		{
			name: "PEM that is no key",
			cfg: notify.Config{SecretData: app(id, "4242", inst, "77", pk,
				"-----BEGIN RSA PRIVATE KEY-----\nczNjcjN0LWdhcmJsZWQta2V5LWJ5dGVz\n-----END RSA PRIVATE KEY-----\n")},
			wantErr: badKey,
		},
		{
			name: "key of another kind", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", pk, ecPEM(t).Reveal())},
			wantErr: "could not parse private key: key is not a valid RSA private key",
		},
		{name: "base URL not http", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", base, "ftp://ghe.example.com/api/v3")}, wantErr: badBase},
		{name: "base URL without host", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", base, "https:///api/v3")}, wantErr: badBase},
		{name: "base URL relative", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", base, "ghe.example.com/api/v3")}, wantErr: badBase},
		{name: "base URL that does not parse", cfg: notify.Config{SecretData: app(id, "4242", inst, "77", base, "https://s3cr3t@[::1/api")}, wantErr: badBase},
		{name: "address without host", cfg: notify.Config{Token: pat, Address: "flux/podinfo"}, wantErr: commitstatus.ErrNoHost.Error()},
		{name: "address without repo", cfg: notify.Config{Token: pat, Address: "https://github.com/flux"}, wantErr: commitstatus.ErrOwnerRepo.Error()},
		{name: "address too deep", cfg: notify.Config{Token: pat, Address: "https://github.com/flux/podinfo/extra"}, wantErr: commitstatus.ErrOwnerRepo.Error()},
		{
			name: "App error before address error", cfg: notify.Config{Address: "flux/podinfo", SecretData: app(id, "4242")},
			wantErr: "app installation owner or ID must be provided to use github app authentication",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cfg.Address == "" {
				tc.cfg.Address = "https://github.com/flux/podinfo"
			}
			conn, err := githubapp.Connect(tc.cfg, githubapp.WithAppCache(githubapp.NewCache()))
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("Connect = %v, %v\nwant error %s", conn, err, tc.wantErr)
			}
		})
	}
}

// github.com goes to api.github.com, any other host to its Enterprise API.
func TestConnectAPIBase(t *testing.T) {
	for _, tc := range []struct {
		address, wantBase string
		wantEnterprise    bool
	}{
		{address: "https://github.com/flux/podinfo", wantBase: "https://api.github.com/"},
		{address: "https://github.com/flux/podinfo.git", wantBase: "https://api.github.com/"},
		{address: "git@github.com:flux/podinfo.git", wantBase: "https://api.github.com/"},
		{address: "ssh://git@github.com/flux/podinfo", wantBase: "https://api.github.com/"},
		{address: "https://ghe.example.com/flux/podinfo", wantBase: "https://ghe.example.com/api/v3/", wantEnterprise: true},
		{address: "ssh://git@ghe.example.com/flux/podinfo", wantBase: "https://ghe.example.com/api/v3/", wantEnterprise: true},
		{address: "http://ghe.example.com:8080/flux/podinfo", wantBase: "http://ghe.example.com:8080/api/v3/", wantEnterprise: true},
	} {
		t.Run(tc.address, func(t *testing.T) {
			conn, err := githubapp.Connect(notify.Config{Token: pat, Address: notify.Secret(tc.address)})
			if err != nil {
				t.Fatal(err)
			}
			want := commitstatus.GitHubRepo{Owner: "flux", Repo: "podinfo", APIBase: tc.wantBase, Enterprise: tc.wantEnterprise}
			if conn.Repo != want || conn.Client.BaseURL() != tc.wantBase {
				t.Errorf("Repo %+v, BaseURL %s; want %+v", conn.Repo, conn.Client.BaseURL(), want)
			}
		})
	}
}

// The installation token goes to the repository's API origin only: a
// request elsewhere through the same client neither carries it nor makes
// the Conn ask for one.
func TestConnectTokenOnlyToAPIOrigin(t *testing.T) {
	f := newFixture(t)
	conn := f.connect(t, notify.Config{SecretData: f.secretData()})
	elsewhere := notifytest.NewSink(t, nil)
	resp, err := conn.Client.Client().Get(elsewhere.URL + "/api/v3/repos/flux/podinfo")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := elsewhere.Last(t).Header.Get("Authorization"); got != "" {
		t.Errorf("the other host received Authorization %q", got)
	}
	if got := f.fake.Calls(); len(got) != 0 {
		t.Errorf("calls %q, want none", got)
	}
	if err := list(context.Background(), conn); err != nil {
		t.Fatal(err)
	}
	if got, want := f.fake.Calls(), []string{tokenCall, listCall}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}

// A redirect to another host is not followed, with a token or the App's.
func TestConnectCrossHostRedirect(t *testing.T) {
	f := newFixture(t)
	f.fake.Token = pat
	elsewhere := notifytest.NewSink(t, nil)
	f.fail(githubtest.Prefix+"/repos/flux/podinfo/commits/"+sha+"/statuses", http.StatusTemporaryRedirect, "", "Location", elsewhere.URL+"/statuses")
	for _, cfg := range []notify.Config{{Token: pat}, {SecretData: f.secretData()}} {
		err := list(context.Background(), f.connect(t, cfg))
		if e := githubapp.Classify(err, f.clk.Now()); e.Retryable || !errors.Is(err, redirect.ErrNotFollowed) {
			t.Errorf("err %v, Retryable %v; want a permanent refusal", err, e.Retryable)
		}
	}
	if n := len(elsewhere.Requests()); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
}

// When the App's token cannot be had, an API call through the Conn fails
// with the token's error, classified and masked.
func TestConnectTokenFailure(t *testing.T) {
	f := newFixture(t)
	f.fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != tokenPath {
			return false
		}
		w.Header().Set("Retry-After", "9")
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"message":"echo ` + r.Header.Get("Authorization") + `"}`))
		return true
	}
	conn := f.connect(t, notify.Config{SecretData: f.secretData()})
	err := list(context.Background(), conn)
	want := `Get "` + f.fake.URL + `/api/v3/repos/flux/podinfo/commits/` + sha + `/statuses?per_page=50": POST ` +
		f.fake.URL + tokenPath + `: 503 echo Bearer ***** []`
	if err == nil || err.Error() != want {
		t.Fatalf("err %v\nwant %s", err, want)
	}
	if got := f.fake.Calls(); !slices.Equal(got, []string{tokenCall}) {
		t.Errorf("calls %q, want only the token request", got)
	}
	e := githubapp.Classify(err, f.clk.Now())
	if !e.Retryable || e.StatusCode != 503 || e.RetryAfter != 9*time.Second {
		t.Errorf("Classify: Retryable %v, StatusCode %d, RetryAfter %v; want a retryable 503 after 9s", e.Retryable, e.StatusCode, e.RetryAfter)
	}
	jwt, _ := strings.CutPrefix(f.fake.Requests()[0].Header.Get("Authorization"), "Bearer ")
	assertNoSecret(t, err, append(keyFragments(pkcs1PEM(appKey())), jwt)...)
}

// Secrets are what callers mask: the App's key, every other secret value
// and the userinfo of the addresses, but not the App's id, installation
// and API base, which identify it in an error.
func TestConnectSecrets(t *testing.T) {
	data := map[string]notify.Secret{
		githubapp.KeyAppID:             "4242",
		githubapp.KeyAppInstallationID: "77",
		githubapp.KeyAppPrivateKey:     pkcs1PEM(appKey()),
		githubapp.KeyAppBaseURL:        "https://herald:s3cr3t-base-pw@ghe.example.com/api/v3",
		"extra":                        "s3cr3t-extra-0123456789abcdef",
	}
	cfg := notify.Config{Address: "https://git:s3cr3t-address-pw@ghe.example.com/flux/podinfo", SecretData: data}
	conn, err := githubapp.Connect(cfg, githubapp.WithAppCache(githubapp.NewCache()))
	if err != nil {
		t.Fatal(err)
	}
	text := "key=" + data[githubapp.KeyAppPrivateKey].Reveal() + " address=" + cfg.Address.Reveal() +
		" app=4242 installation=77 base=" + data[githubapp.KeyAppBaseURL].Reveal() + " extra=" + data["extra"].Reveal() +
		" password=s3cr3t-address-pw"
	const want = "key=*****\n address=https://*****@ghe.example.com/flux/podinfo app=4242 installation=77" +
		" base=https://*****@ghe.example.com/api/v3 extra=***** password=*****"
	if got := notify.Mask(text, conn.Secrets...); got != want {
		t.Errorf("masked:\n%s\nwant\n%s", got, want)
	}
	// Connect keeps the Provider's secret as it was.
	if _, ok := data[githubapp.KeyAppID]; !ok || len(data) != 5 {
		t.Errorf("Connect changed the secret data: %v", slices.Sorted(maps.Keys(data)))
	}
}

// WithClock is the clock of the Conn and of its App's JWTs; WithAppCache
// is where the App's tokens are kept, Shared without it.
func TestConnectOptions(t *testing.T) {
	f := newFixture(t)
	cfg := notify.Config{Address: notify.Secret(f.fake.URL + "/flux/podinfo"), SecretData: f.secretData()}
	cache := githubapp.NewCache()
	token := func(opts ...githubapp.Option) string {
		t.Helper()
		conn, err := githubapp.Connect(cfg, append(opts, githubapp.WithClock(f.clk.Now))...)
		if err != nil {
			t.Fatal(err)
		}
		if !conn.Now().Equal(start) || !conn.App.Now().Equal(start) {
			t.Errorf("Now = %v, App.Now = %v; want the injected %v", conn.Now(), conn.App.Now(), start)
		}
		tok, err := conn.App.Token(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok.Reveal()
	}
	for i, tc := range []struct {
		opts []githubapp.Option
		want string
	}{
		{opts: []githubapp.Option{githubapp.WithAppCache(cache)}, want: firstToken},
		{opts: []githubapp.Option{githubapp.WithAppCache(cache)}, want: firstToken},
		{opts: []githubapp.Option{githubapp.WithAppCache(githubapp.NewCache())}, want: secondToken},
		{opts: nil, want: "ghs_fakeinstallationtoken0000000000000003"},
		{opts: nil, want: "ghs_fakeinstallationtoken0000000000000003"},
	} {
		if got := token(tc.opts...); got != tc.want {
			t.Errorf("Connect %d: token %q, want %q", i, got, tc.want)
		}
	}
}
