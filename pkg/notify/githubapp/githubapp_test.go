package githubapp_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

func TestFromSecret(t *testing.T) {
	key := pkcs1PEM(appKey())
	for _, tc := range []struct {
		name   string
		data   map[string]notify.Secret
		want   githubapp.Config
		wantOK bool
	}{
		{name: "no secret"},
		{name: "token only", data: map[string]notify.Secret{"token": "ghp_x"}},
		{name: "App keys without an ID are no App", data: map[string]notify.Secret{
			githubapp.KeyAppInstallationID: "77", githubapp.KeyAppPrivateKey: key,
		}},
		{name: "installation id", data: map[string]notify.Secret{
			githubapp.KeyAppID: "4242", githubapp.KeyAppInstallationID: "77", githubapp.KeyAppPrivateKey: key,
		}, want: githubapp.Config{AppID: 4242, InstallationID: 77, PrivateKey: key}, wantOK: true},
		{name: "installation owner and base URL", data: map[string]notify.Secret{
			githubapp.KeyAppID: "4242", githubapp.KeyAppInstallationOwner: "flux", githubapp.KeyAppPrivateKey: key,
			githubapp.KeyAppBaseURL: "https://ghe.example.com/api/v3",
		}, want: githubapp.Config{AppID: 4242, InstallationOwner: "flux", PrivateKey: key, BaseURL: "https://ghe.example.com/api/v3"}, wantOK: true},
		{name: "numbers that do not parse read as 0", data: map[string]notify.Secret{
			githubapp.KeyAppID: "app", githubapp.KeyAppInstallationID: "seventy-seven",
		}, want: githubapp.Config{}, wantOK: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := githubapp.FromSecret(tc.data)
			if ok != tc.wantOK || got != tc.want {
				t.Errorf("FromSecret = %+v, %v; want %+v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

// The App JWT, as the fake received it, is exactly Flux's: golang-jwt's
// RS256 header, iss = App ID, iat 30 seconds back in whole seconds and exp
// two minutes later, signed with the App's key. It also keeps GitHub's
// rules: iat in the past, exp in the future and at most ten minutes ahead.
func TestTokenJWT(t *testing.T) {
	for _, tc := range []struct {
		name    string
		now     time.Time
		wantIat int64
	}{
		{name: "whole second", now: start, wantIat: start.Unix() - 30},
		{name: "fraction of a second is dropped", now: start.Add(999 * time.Millisecond), wantIat: start.Unix() - 30},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.clk.Add(tc.now.Sub(start))
			token, err := f.source(t, f.config(), githubapp.NewCache()).Token(context.Background())
			if err != nil || token != firstToken {
				t.Fatalf("Token = %q, %v; want %q", token.Reveal(), err, firstToken)
			}
			reqs := f.fake.Requests()
			if got := f.fake.Calls(); !slices.Equal(got, []string{tokenCall}) {
				t.Fatalf("calls %q, want %q", got, tokenCall)
			}
			req := reqs[0]
			// go-github sends the nil options as JSON null.
			if string(req.Body) != "null\n" || req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("body %q, Content-Type %q", req.Body, req.Header.Get("Content-Type"))
			}
			jwt, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
			if !ok {
				t.Fatalf("Authorization = %q", req.Header.Get("Authorization"))
			}
			parts := strings.Split(jwt, ".")
			if len(parts) != 3 {
				t.Fatalf("JWT has %d parts", len(parts))
			}
			dec := base64.RawURLEncoding
			header, err1 := dec.DecodeString(parts[0])
			payload, err2 := dec.DecodeString(parts[1])
			sig, err3 := dec.DecodeString(parts[2])
			if err := errors.Join(err1, err2, err3); err != nil {
				t.Fatalf("JWT is not base64url: %v", err)
			}
			if got, want := string(header), `{"alg":"RS256","typ":"JWT"}`; got != want {
				t.Errorf("header %s, want %s", got, want)
			}
			want := fmt.Sprintf(`{"iss":"4242","exp":%d,"iat":%d}`, tc.wantIat+120, tc.wantIat)
			if string(payload) != want {
				t.Errorf("claims %s, want %s", payload, want)
			}
			digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
			if err := rsa.VerifyPKCS1v15(&appKey().PublicKey, crypto.SHA256, digest[:], sig); err != nil {
				t.Errorf("signature: %v", err)
			}
			now := tc.now.Unix()
			if iat, exp := tc.wantIat, tc.wantIat+120; iat > now || exp <= now || exp > now+600 {
				t.Errorf("iat %d, exp %d outside GitHub's window at %d", iat, exp, now)
			}
		})
	}
}

// The fake refuses a JWT that GitHub would: the wrong key or App, or a
// clock so far off that the JWT is not valid on GitHub's. The boundaries
// pin iat and exp to the second.
func TestTokenJWTRefused(t *testing.T) {
	refused := func(f *fixture) string {
		return "POST " + f.fake.URL + tokenPath + ": 401 A JSON web token could not be decoded []"
	}
	for _, tc := range []struct {
		name    string
		cfg     func(*githubapp.Config)
		fakeApp int64
		skew    time.Duration // of the Source's clock against GitHub's
		refused bool
	}{
		{name: "right key and App"},
		{name: "another key", cfg: func(c *githubapp.Config) { c.PrivateKey = pkcs1PEM(otherKey()) }, refused: true},
		{name: "another App", fakeApp: appID + 1, refused: true},
		{name: "clock 30s ahead: iat is now", skew: 30 * time.Second},
		{name: "clock 31s ahead: iat in the future", skew: 31 * time.Second, refused: true},
		{name: "clock 89s behind: exp a second ahead", skew: -89 * time.Second},
		{name: "clock 90s behind: exp is now", skew: -90 * time.Second, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.fakeApp != 0 {
				f.fake.AppID = tc.fakeApp
			}
			cfg := f.config()
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			s := f.source(t, cfg, githubapp.NewCache())
			s.Now = func() time.Time { return f.clk.Now().Add(tc.skew) }
			token, err := s.Token(context.Background())
			if !tc.refused {
				if err != nil || token != firstToken {
					t.Fatalf("Token = %q, %v; want %q", token.Reveal(), err, firstToken)
				}
				return
			}
			if err == nil || err.Error() != refused(f) {
				t.Fatalf("Token = %q, %v; want %s", token.Reveal(), err, refused(f))
			}
			if e := classified(t, err); e.Retryable || e.StatusCode != http.StatusUnauthorized || e.RetryAfter != 0 {
				t.Errorf("Retryable %v, StatusCode %d, RetryAfter %v; want a permanent 401", e.Retryable, e.StatusCode, e.RetryAfter)
			}
		})
	}
}

// githubAppBaseURL is used as given, with or without a trailing slash;
// without it the token goes to api.github.com.
func TestTokenBaseURL(t *testing.T) {
	for _, tc := range []struct {
		name, base, want string
	}{
		{name: "default", base: "", want: "https://api.github.com/app/installations/77/access_tokens"},
		{name: "Enterprise", base: "https://ghe.example.com/api/v3", want: "https://ghe.example.com/api/v3/app/installations/77/access_tokens"},
		{name: "trailing slash", base: "https://ghe.example.com/api/v3/", want: "https://ghe.example.com/api/v3/app/installations/77/access_tokens"},
		{name: "http and a port", base: "http://10.0.0.1:8080/github/api", want: "http://10.0.0.1:8080/github/api/app/installations/77/access_tokens"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			// The transport records where the request went and refuses it,
			// so no request leaves the test.
			hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = append(got, r.Method+" "+r.URL.String())
				return nil, errors.New("no network in this test")
			})}
			cfg := githubapp.Config{AppID: appID, InstallationID: installationID, PrivateKey: pkcs1PEM(appKey()), BaseURL: tc.base}
			s, err := githubapp.New(cfg, hc, githubapp.NewCache())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Token(context.Background()); err == nil {
				t.Fatal("Token succeeded without a server")
			}
			if want := []string{"POST " + tc.want}; !slices.Equal(got, want) {
				t.Errorf("requests %q, want %q", got, want)
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// With only the owner, the installation is found as an organization's,
// then as a user's, as Flux does; the user lookup's error decides the
// classification.
func TestTokenInstallationByOwner(t *testing.T) {
	orgPath := githubtest.Prefix + "/orgs/flux/installation"
	userPath := githubtest.Prefix + "/users/flux/installation"
	for _, tc := range []struct {
		name          string
		installations map[string]int64
		fail          string // the path that answers failCode
		failCode      int
		failHeader    []string
		wantCalls     []string
		wantErr       string // with URL for the fake's URL
		wantRetry     bool
		wantStatus    int
		wantAfter     time.Duration
	}{
		{name: "organization", installations: map[string]int64{"orgs/flux": 77}, wantCalls: []string{orgCall, tokenCall}},
		{name: "user", installations: map[string]int64{"users/flux": 77}, wantCalls: []string{orgCall, userCall, tokenCall}},
		{
			name: "neither", installations: map[string]int64{}, wantCalls: []string{orgCall, userCall},
			wantErr: "failed to find organization installation: GET URL" + orgPath + ": 404 Not Found []\n" +
				"failed to find user installation: GET URL" + userPath + ": 404 Not Found []",
			wantStatus: 404,
		},
		{
			name: "organization lookup fails, no user installation", installations: map[string]int64{},
			fail: orgPath, failCode: 503, wantCalls: []string{orgCall, userCall},
			wantErr: "failed to find organization installation: GET URL" + orgPath + ": 503 unavailable []\n" +
				"failed to find user installation: GET URL" + userPath + ": 404 Not Found []",
			wantStatus: 404,
		},
		{
			name: "user lookup fails", installations: map[string]int64{},
			fail: userPath, failCode: 503, failHeader: []string{"Retry-After", "20"}, wantCalls: []string{orgCall, userCall},
			wantErr: "failed to find organization installation: GET URL" + orgPath + ": 404 Not Found []\n" +
				"failed to find user installation: GET URL" + userPath + ": 503 unavailable []",
			wantRetry: true, wantStatus: 503, wantAfter: 20 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.fake.Installations = tc.installations
			if tc.fail != "" {
				f.fail(tc.fail, tc.failCode, `{"message":"unavailable"}`, tc.failHeader...)
			}
			cfg := f.config()
			cfg.InstallationID, cfg.InstallationOwner = 0, "flux"
			token, err := f.source(t, cfg, githubapp.NewCache()).Token(context.Background())
			if got := f.fake.Calls(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
			if tc.wantErr == "" {
				if err != nil || token != firstToken {
					t.Fatalf("Token = %q, %v; want %q", token.Reveal(), err, firstToken)
				}
				return
			}
			if want := strings.ReplaceAll(tc.wantErr, "URL", f.fake.URL); err == nil || err.Error() != want {
				t.Fatalf("Token = %q, %v\nwant error %s", token.Reveal(), err, want)
			}
			e := classified(t, err)
			if e.Retryable != tc.wantRetry || e.StatusCode != tc.wantStatus || e.RetryAfter != tc.wantAfter {
				t.Errorf("Retryable %v, StatusCode %d, RetryAfter %v; want %v, %d, %v",
					e.Retryable, e.StatusCode, e.RetryAfter, tc.wantRetry, tc.wantStatus, tc.wantAfter)
			}
		})
	}
}

// A token is kept until the cache's margin before it expires, on the
// injected clock; the owner's installation is looked up once.
func TestTokenCache(t *testing.T) {
	type step struct {
		advance time.Duration
		want    int // the number of the token the fake issued
	}
	for _, tc := range []struct {
		name    string
		margin  time.Duration
		ttl     time.Duration
		byOwner bool
		steps   []step
		calls   []string
	}{
		{
			name: "default margin, five minutes", margin: githubapp.DefaultMargin,
			steps: []step{{0, 1}, {0, 1}, {55*time.Minute - time.Second, 1}, {time.Second, 2}, {55*time.Minute - time.Second, 2}, {time.Second, 3}},
			calls: []string{tokenCall, tokenCall, tokenCall},
		},
		{
			name: "no margin", margin: 0,
			steps: []step{{0, 1}, {time.Hour - time.Second, 1}, {time.Second, 2}},
			calls: []string{tokenCall, tokenCall},
		},
		{
			name: "a token shorter-lived than the margin is never kept", margin: githubapp.DefaultMargin, ttl: 4 * time.Minute,
			steps: []step{{0, 1}, {0, 2}, {time.Minute, 3}},
			calls: []string{tokenCall, tokenCall, tokenCall},
		},
		{
			name: "installation by owner is looked up once", margin: githubapp.DefaultMargin, byOwner: true,
			steps: []step{{0, 1}, {time.Minute, 1}, {time.Hour, 2}, {time.Hour, 3}},
			calls: []string{orgCall, tokenCall, tokenCall, tokenCall},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.ttl != 0 {
				f.fake.TokenTTL = tc.ttl
			}
			cfg := f.config()
			if tc.byOwner {
				cfg.InstallationID, cfg.InstallationOwner = 0, "flux"
			}
			cache := githubapp.NewCache()
			cache.Margin = tc.margin
			s := f.source(t, cfg, cache)
			for i, st := range tc.steps {
				f.clk.Add(st.advance)
				token, err := s.Token(context.Background())
				if want := fmt.Sprintf("ghs_fakeinstallationtoken%016d", st.want); err != nil || token.Reveal() != want {
					t.Fatalf("step %d (%v): Token = %q, %v; want %q", i, f.clk.Now().Sub(start), token.Reveal(), err, want)
				}
			}
			if got := f.fake.Calls(); !slices.Equal(got, tc.calls) {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
		})
	}
}

func TestNewCache(t *testing.T) {
	if got := githubapp.NewCache().Margin; got != 5*time.Minute || githubapp.DefaultMargin != 5*time.Minute {
		t.Errorf("NewCache().Margin = %v, want 5m", got)
	}
	if githubapp.Shared == nil || githubapp.Shared.Margin != githubapp.DefaultMargin {
		t.Errorf("Shared = %+v", githubapp.Shared)
	}
}

// Sources share a cached token when they are the same installation of the
// same App with the same key and API base, in the same cache.
func TestTokenCacheKey(t *testing.T) {
	for _, tc := range []struct {
		name          string
		first, second func(*testing.T, *githubapp.Config)
		// otherCache gives the second Source a cache of its own; shared
		// gives both Sources the Shared cache.
		otherCache, shared bool
		want               string
		calls              []string
	}{
		{name: "same config", want: firstToken, calls: []string{tokenCall}},
		{name: "same config, Shared cache", shared: true, want: firstToken, calls: []string{tokenCall}},
		{
			name:   "same base URL with a trailing slash",
			second: func(_ *testing.T, c *githubapp.Config) { c.BaseURL += "/" },
			want:   firstToken, calls: []string{tokenCall},
		},
		{name: "another cache", otherCache: true, want: secondToken, calls: []string{tokenCall, tokenCall}},
		{
			name:   "the key in PKCS#8",
			second: func(t *testing.T, c *githubapp.Config) { c.PrivateKey = pkcs8PEM(t, appKey()) },
			want:   secondToken, calls: []string{tokenCall, tokenCall},
		},
		{
			name:   "installation by owner",
			second: func(_ *testing.T, c *githubapp.Config) { c.InstallationID, c.InstallationOwner = 0, "flux" },
			want:   secondToken, calls: []string{tokenCall, orgCall, tokenCall},
		},
		{
			name:   "another owner",
			first:  func(_ *testing.T, c *githubapp.Config) { c.InstallationID, c.InstallationOwner = 0, "flux" },
			second: func(_ *testing.T, c *githubapp.Config) { c.InstallationID, c.InstallationOwner = 0, "acme" },
			want:   secondToken,
			calls:  []string{orgCall, tokenCall, "GET /api/v3/orgs/acme/installation", "POST /api/v3/app/installations/78/access_tokens"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.fake.Installations["orgs/acme"] = 78
			first, second := githubapp.NewCache(), githubapp.NewCache()
			switch {
			case tc.shared:
				first, second = nil, nil
			case !tc.otherCache:
				second = first
			}
			cfg := f.config()
			if tc.first != nil {
				tc.first(t, &cfg)
			}
			if token, err := f.source(t, cfg, first).Token(context.Background()); err != nil || token != firstToken {
				t.Fatalf("first Token = %q, %v", token.Reveal(), err)
			}
			cfg = f.config()
			if tc.second != nil {
				tc.second(t, &cfg)
			}
			token, err := f.source(t, cfg, second).Token(context.Background())
			if err != nil || token.Reveal() != tc.want {
				t.Fatalf("second Token = %q, %v; want %q", token.Reveal(), err, tc.want)
			}
			if got := f.fake.Calls(); !slices.Equal(got, tc.calls) {
				t.Errorf("calls %q, want %q", got, tc.calls)
			}
		})
	}
}

// Concurrent callers of a cold cache wait for one token request. Under
// -race, a missing lock is reported as a race as well.
func TestTokenConcurrent(t *testing.T) {
	f := newFixture(t)
	cache := githubapp.NewCache()
	const n = 16
	tokens := make([]notify.Secret, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		// A Source each, as Providers of the same App have.
		s := f.source(t, f.config(), cache)
		wg.Go(func() { tokens[i], errs[i] = s.Token(context.Background()) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || tokens[i] != firstToken {
			t.Errorf("caller %d: Token = %q, %v", i, tokens[i].Reveal(), errs[i])
		}
	}
	if got := f.fake.Calls(); !slices.Equal(got, []string{tokenCall}) {
		t.Errorf("calls %q, want one token request", got)
	}
}

// The token endpoint's answers, classified by Classify's rules: 401, 403,
// 404 and 501 are permanent; 408, 429 and 5xx retried, with Retry-After
// (seconds or a date on the injected clock) and GitHub's rate limits.
func TestTokenStatusClassified(t *testing.T) {
	date := start.Add(2 * time.Minute).Format(http.TimeFormat)
	reset := strconv.FormatInt(start.Add(90*time.Second).Unix(), 10)
	const secondaryDoc = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits"
	for _, tc := range []struct {
		name   string
		code   int
		header []string
		body   string
		// wantText follows "POST <token URL>: ". A primary rate limit adds
		// go-github's "[rate reset in …]", on the real clock.
		wantText  string
		rateReset bool
		wantRetry bool
		wantAfter time.Duration
	}{
		{name: "401", code: 401, body: `{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"}`, wantText: "401 Bad credentials []"},
		{name: "403", code: 403, body: `{"message":"Resource not accessible by integration"}`, wantText: "403 Resource not accessible by integration []"},
		{name: "404", code: 404, body: `{"message":"Not Found"}`, wantText: "404 Not Found []"},
		{name: "422", code: 422, body: `{"message":"Validation Failed"}`, wantText: "422 Validation Failed []"},
		{name: "501", code: 501, body: `{"message":"Not Implemented"}`, wantText: "501 Not Implemented []"},
		{name: "400 ignores Retry-After", code: 400, header: []string{"Retry-After", "7"}, body: `{"message":"Problems parsing JSON"}`, wantText: "400 Problems parsing JSON []"},
		{name: "body not JSON", code: 500, body: "<html>oops</html>", wantText: "500  []", wantRetry: true},
		{name: "408", code: 408, body: `{}`, wantText: "408  []", wantRetry: true},
		{name: "500", code: 500, body: `{"message":"Server Error"}`, wantText: "500 Server Error []", wantRetry: true},
		{name: "502 Retry-After seconds", code: 502, header: []string{"Retry-After", "30"}, body: `{"message":"Bad Gateway"}`, wantText: "502 Bad Gateway []", wantRetry: true, wantAfter: 30 * time.Second},
		{name: "503 Retry-After date", code: 503, header: []string{"Retry-After", date}, body: `{"message":"Unavailable"}`, wantText: "503 Unavailable []", wantRetry: true, wantAfter: 2 * time.Minute},
		{name: "429", code: 429, body: `{"message":"Too Many Requests"}`, wantText: "429 Too Many Requests []", wantRetry: true},
		{name: "429 Retry-After", code: 429, header: []string{"Retry-After", "7"}, body: `{"message":"Too Many Requests"}`, wantText: "429 Too Many Requests []", wantRetry: true, wantAfter: 7 * time.Second},
		{name: "403 Retry-After", code: 403, header: []string{"Retry-After", "60"}, body: `{"message":"slow down"}`, wantText: "403 slow down []", wantRetry: true, wantAfter: time.Minute},
		{
			name: "403 primary rate limit", code: 403, header: []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset},
			body: `{"message":"API rate limit exceeded"}`, wantText: "403 API rate limit exceeded", rateReset: true, wantRetry: true, wantAfter: 90 * time.Second,
		},
		{
			name: "429 primary rate limit, Retry-After wins", code: 429,
			header: []string{"X-RateLimit-Remaining", "0", "X-RateLimit-Reset", reset, "Retry-After", "15"},
			body:   `{"message":"API rate limit exceeded"}`, wantText: "429 API rate limit exceeded", rateReset: true, wantRetry: true, wantAfter: 15 * time.Second,
		},
		{
			name: "403 secondary rate limit without a time", code: 403,
			body:     `{"message":"You have exceeded a secondary rate limit","documentation_url":"` + secondaryDoc + `"}`,
			wantText: "403 You have exceeded a secondary rate limit", wantRetry: true, wantAfter: githubapp.SecondaryLimitWait,
		},
		{
			name: "429 secondary rate limit, Retry-After", code: 429, header: []string{"Retry-After", "45"},
			body:     `{"message":"You have exceeded a secondary rate limit","documentation_url":"` + secondaryDoc + `"}`,
			wantText: "429 You have exceeded a secondary rate limit [retry after 45s]", wantRetry: true, wantAfter: 45 * time.Second,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.fail(tokenPath, tc.code, tc.body, tc.header...)
			token, err := f.source(t, f.config(), githubapp.NewCache()).Token(context.Background())
			if err == nil || token != "" {
				t.Fatalf("Token = %q, %v; want an error", token.Reveal(), err)
			}
			want := "POST " + f.fake.URL + tokenPath + ": " + tc.wantText
			if got := err.Error(); tc.rateReset {
				if rest, ok := strings.CutPrefix(got, want+" [rate "); !ok || !strings.HasSuffix(rest, "]") {
					t.Errorf("error %s\nwant %s [rate …]", got, want)
				}
			} else if got != want {
				t.Errorf("error %s\nwant  %s", got, want)
			}
			e := classified(t, err)
			if e.Retryable != tc.wantRetry || e.StatusCode != tc.code || e.RetryAfter != tc.wantAfter {
				t.Errorf("Retryable %v, StatusCode %d, RetryAfter %v; want %v, %d, %v",
					e.Retryable, e.StatusCode, e.RetryAfter, tc.wantRetry, tc.code, tc.wantAfter)
			}
			if retry, _ := notify.Outcome(err); retry != tc.wantRetry {
				t.Errorf("notify.Outcome retry = %v, want %v", retry, tc.wantRetry)
			}
		})
	}
}

// Failures without an HTTP status from GitHub.
func TestTokenOtherFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		// setup returns the Source's API base and context, and the error
		// text wanted.
		setup     func(t *testing.T, f *fixture) (base string, ctx context.Context, want string)
		prefix    bool // want is a prefix: the rest is the OS's
		wantRetry bool
		wantIs    error
		wantCalls []string
	}{
		{
			name: "connection refused",
			setup: func(t *testing.T, _ *fixture) (string, context.Context, string) {
				base := notifytest.ClosedAddress(t) + githubtest.Prefix
				return base, context.Background(), `Post "` + base + `/app/installations/77/access_tokens": dial tcp `
			},
			prefix: true, wantRetry: true,
		},
		{
			name: "context canceled",
			setup: func(_ *testing.T, f *fixture) (string, context.Context, string) {
				ctx, cancel := context.WithCancel(context.Background())
				cancel()
				return f.base(), ctx, "context canceled"
			},
			wantRetry: true, wantIs: context.Canceled,
		},
		{
			name: "redirect to another host",
			setup: func(t *testing.T, f *fixture) (string, context.Context, string) {
				elsewhere := notifytest.NewSink(t, nil)
				t.Cleanup(func() {
					if n := len(elsewhere.Requests()); n != 0 {
						t.Errorf("the other host received %d requests", n)
					}
				})
				f.fail(tokenPath, http.StatusTemporaryRedirect, "", "Location", elsewhere.URL+"/steal")
				return f.base(), context.Background(), `Post "` + elsewhere.URL + `/steal": refusing to follow a redirect to another host: 307 Temporary Redirect to ` + elsewhere.URL
			},
			wantCalls: []string{tokenCall},
		},
		{
			name: "answer without a token",
			setup: func(_ *testing.T, f *fixture) (string, context.Context, string) {
				f.fail(tokenPath, http.StatusCreated, `{"expires_at":"2031-03-04T06:06:07Z"}`)
				return f.base(), context.Background(), "GitHub answered without an installation token"
			},
			wantRetry: true, wantCalls: []string{tokenCall},
		},
		{
			name: "answer that is not JSON",
			setup: func(_ *testing.T, f *fixture) (string, context.Context, string) {
				f.fail(tokenPath, http.StatusCreated, `<html>`)
				return f.base(), context.Background(), "invalid character '<' looking for beginning of value"
			},
			wantRetry: true, wantCalls: []string{tokenCall},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			base, ctx, want := tc.setup(t, f)
			cfg := f.config()
			cfg.BaseURL = base
			token, err := f.source(t, cfg, githubapp.NewCache()).Token(ctx)
			if err == nil || token != "" {
				t.Fatalf("Token = %q, %v; want an error", token.Reveal(), err)
			}
			if got := err.Error(); tc.prefix && !strings.HasPrefix(got, want) || !tc.prefix && got != want {
				t.Errorf("error %s\nwant  %s", got, want)
			}
			e := classified(t, err)
			if e.Retryable != tc.wantRetry || e.StatusCode != 0 || e.RetryAfter != 0 {
				t.Errorf("Retryable %v, StatusCode %d, RetryAfter %v; want %v, 0, 0", e.Retryable, e.StatusCode, e.RetryAfter, tc.wantRetry)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("errors.Is(err, %v) = false", tc.wantIs)
			}
			if got := f.fake.Calls(); !slices.Equal(got, tc.wantCalls) {
				t.Errorf("calls %q, want %q", got, tc.wantCalls)
			}
		})
	}
}

// A failure is not cached: the next call asks again.
func TestTokenAfterFailure(t *testing.T) {
	f := newFixture(t)
	f.fail(tokenPath, http.StatusServiceUnavailable, `{"message":"Unavailable"}`)
	s := f.source(t, f.config(), githubapp.NewCache())
	if _, err := s.Token(context.Background()); err == nil {
		t.Fatal("Token succeeded against a 503")
	}
	f.fake.Intercept = nil
	for range 2 {
		if token, err := s.Token(context.Background()); err != nil || token != firstToken {
			t.Fatalf("Token = %q, %v; want %q", token.Reveal(), err, firstToken)
		}
	}
	if got, want := f.fake.Calls(), []string{tokenCall, tokenCall}; !slices.Equal(got, want) {
		t.Errorf("calls %q, want %q", got, want)
	}
}
