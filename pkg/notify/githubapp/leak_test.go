package githubapp_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
)

// baseURLPassword is a password in githubAppBaseURL's userinfo.
const baseURLPassword = "s3cr3t-baseurl-pw-5e4d3c2b1a"

// No error of a Source shows the App's key, the JWT or a password of the
// API base, even when GitHub echoes the request's Authorization header.
func TestErrorsHideSecrets(t *testing.T) {
	echo := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"message":"echo ` + r.Header.Get("Authorization") + `"}`))
	}
	for _, tc := range []struct {
		name string
		// echoes are the paths whose answers echo the Authorization header.
		echoes []string
		setup  func(*fixture, *githubapp.Config)
		call   func(context.Context, *githubapp.Source) error
		// wantEcho is how many JWTs the errors must show masked.
		wantEcho int
		// wantMasked, if set, is text the error must show.
		wantMasked string
	}{
		{
			name: "token endpoint", echoes: []string{tokenPath}, wantEcho: 1,
			call: func(ctx context.Context, s *githubapp.Source) error { _, err := s.Token(ctx); return err },
		},
		{
			name: "installation lookups", echoes: []string{githubtest.Prefix + "/orgs/flux/installation", githubtest.Prefix + "/users/flux/installation"},
			setup:    func(_ *fixture, c *githubapp.Config) { c.InstallationID, c.InstallationOwner = 0, "flux" },
			wantEcho: 2,
			call:     func(ctx context.Context, s *githubapp.Source) error { _, err := s.Token(ctx); return err },
		},
		{
			name: "App slug", echoes: []string{githubtest.Prefix + "/app"}, wantEcho: 1,
			call: func(ctx context.Context, s *githubapp.Source) error { _, err := s.Slug(ctx); return err },
		},
		{
			name: "password in the API base", setup: func(f *fixture, c *githubapp.Config) {
				u, _ := url.Parse(f.base())
				u.User = url.UserPassword("herald", baseURLPassword)
				c.BaseURL = u.String()
				f.fail(tokenPath, http.StatusUnauthorized, `{"message":"Bad credentials"}`)
			},
			wantMasked: "POST http://*****@127.0.0.1:",
			call:       func(ctx context.Context, s *githubapp.Source) error { _, err := s.Token(ctx); return err },
		},
		{
			name: "password in the API base, App slug", setup: func(f *fixture, c *githubapp.Config) {
				u, _ := url.Parse(f.base())
				u.User = url.UserPassword("herald", baseURLPassword)
				c.BaseURL = u.String()
				f.fail(githubtest.Prefix+"/app", http.StatusUnauthorized, `{"message":"Bad credentials"}`)
			},
			wantMasked: "failed to get app information: GET http://*****@127.0.0.1:",
			call:       func(ctx context.Context, s *githubapp.Source) error { _, err := s.Slug(ctx); return err },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixtureOn(githubtest.NewCommentServer(t).Server)
			if len(tc.echoes) > 0 {
				f.fake.Intercept = func(w http.ResponseWriter, r *http.Request) bool {
					for _, p := range tc.echoes {
						if r.URL.Path == p {
							echo(w, r)
							return true
						}
					}
					return false
				}
			}
			cfg := f.config()
			if tc.setup != nil {
				tc.setup(f, &cfg)
			}
			err := tc.call(context.Background(), f.source(t, cfg, githubapp.NewCache()))
			if err == nil {
				t.Fatal("the call succeeded against a failing server")
			}
			t.Logf("error: %v", err)
			secrets := append(keyFragments(cfg.PrivateKey), baseURLPassword)
			for _, r := range f.fake.Requests() {
				jwt, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				secrets = append(secrets, jwt, strings.Split(jwt, ".")[2])
			}
			assertNoSecret(t, err, secrets...)
			if got := strings.Count(err.Error(), "echo Bearer *****"); got != tc.wantEcho {
				t.Errorf("%d masked echoes, want %d: %s", got, tc.wantEcho, err)
			}
			if !strings.HasPrefix(err.Error(), tc.wantMasked) {
				t.Errorf("error %s\nwant it to start %s", err, tc.wantMasked)
			}
		})
	}
}
