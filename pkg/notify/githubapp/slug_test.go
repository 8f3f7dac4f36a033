package githubapp_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
)

func TestSlug(t *testing.T) {
	const appCall = "GET " + githubtest.Prefix + "/app"
	for _, tc := range []struct {
		name      string
		slug      string
		setup     func(*fixture, *githubapp.Config)
		want      string
		wantErr   string // after "failed to get app information: ", URL for the fake's
		wantRetry bool
		wantCode  int
		wantAfter time.Duration
	}{
		{name: "slug", slug: "herald-bot", want: "herald-bot"},
		{
			name: "JWT of another key", slug: "herald-bot",
			setup:   func(_ *fixture, c *githubapp.Config) { c.PrivateKey = pkcs1PEM(otherKey()) },
			wantErr: "GET URL/api/v3/app: 401 A JSON web token could not be decoded []", wantCode: 401,
		},
		{
			name: "503 with Retry-After", slug: "herald-bot",
			setup: func(f *fixture, _ *githubapp.Config) {
				f.fail(githubtest.Prefix+"/app", http.StatusServiceUnavailable, `{"message":"Unavailable"}`, "Retry-After", "12")
			},
			wantErr: "GET URL/api/v3/app: 503 Unavailable []", wantRetry: true, wantCode: 503, wantAfter: 12 * time.Second,
		},
		{name: "no slug", slug: "", wantErr: "GitHub answered without the App's slug", wantRetry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := githubtest.NewCommentServer(t)
			cs.AppSlug = tc.slug
			f := newFixtureOn(cs.Server)
			cfg := f.config()
			if tc.setup != nil {
				tc.setup(f, &cfg)
			}
			slug, err := f.source(t, cfg, githubapp.NewCache()).Slug(context.Background())
			if got := f.fake.Calls(); !slices.Equal(got, []string{appCall}) {
				t.Errorf("calls %q, want %q", got, appCall)
			}
			if tc.wantErr == "" {
				if err != nil || slug != tc.want {
					t.Fatalf("Slug = %q, %v; want %q", slug, err, tc.want)
				}
				return
			}
			want := "failed to get app information: " + strings.ReplaceAll(tc.wantErr, "URL", f.fake.URL)
			if err == nil || slug != "" || err.Error() != want {
				t.Fatalf("Slug = %q, %v\nwant error %s", slug, err, want)
			}
			e := classified(t, err)
			if e.Retryable != tc.wantRetry || e.StatusCode != tc.wantCode || e.RetryAfter != tc.wantAfter {
				t.Errorf("Retryable %v, StatusCode %d, RetryAfter %v; want %v, %d, %v",
					e.Retryable, e.StatusCode, e.RetryAfter, tc.wantRetry, tc.wantCode, tc.wantAfter)
			}
		})
	}
}
