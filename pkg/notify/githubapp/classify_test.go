package githubapp_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/redirect"
)

// response is a GitHub answer with headers given as name, value pairs.
func response(code int, header ...string) *http.Response {
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	req, _ := http.NewRequest(http.MethodPost, "https://api.github.com/repos/flux/podinfo/statuses/"+sha, nil)
	return &http.Response{StatusCode: code, Header: h, Request: req}
}

// Classify on go-github's error types, with the injected now: the cases
// the token endpoint cannot produce (see TestTokenStatusClassified for
// those it can).
func TestClassify(t *testing.T) {
	now := start
	secs := func(d time.Duration) *time.Duration { return &d }
	classed := &notify.Error{Retryable: true, RetryAfter: 5 * time.Second, StatusCode: 502, Err: errors.New("classed")}
	for _, tc := range []struct {
		name       string
		err        error
		wantRetry  bool
		wantStatus int
		wantAfter  time.Duration
	}{
		{name: "classified already", err: fmt.Errorf("wrapped: %w", classed), wantRetry: true, wantStatus: 502, wantAfter: 5 * time.Second},
		{name: "classified permanent", err: notify.Permanent(errors.New("no")), wantRetry: false},
		{
			name:      "primary rate limit waits for the reset",
			err:       &gh.RateLimitError{Rate: gh.Rate{Reset: gh.Timestamp{Time: now.Add(42 * time.Minute)}}, Response: response(403, "X-RateLimit-Remaining", "0")},
			wantRetry: true, wantStatus: 403, wantAfter: 42 * time.Minute,
		},
		{
			name:      "primary rate limit already reset",
			err:       &gh.RateLimitError{Rate: gh.Rate{Reset: gh.Timestamp{Time: now.Add(-time.Minute)}}, Response: response(429, "X-RateLimit-Remaining", "0")},
			wantRetry: true, wantStatus: 429,
		},
		{
			name: "primary rate limit, Retry-After date",
			err: &gh.RateLimitError{Rate: gh.Rate{Reset: gh.Timestamp{Time: now.Add(42 * time.Minute)}},
				Response: response(403, "X-RateLimit-Remaining", "0", "Retry-After", now.Add(3*time.Minute).Format(http.TimeFormat))},
			wantRetry: true, wantStatus: 403, wantAfter: 3 * time.Minute,
		},
		{
			name:      "primary rate limit without a response",
			err:       &gh.RateLimitError{Rate: gh.Rate{Reset: gh.Timestamp{Time: now.Add(time.Minute)}}},
			wantRetry: true, wantAfter: time.Minute,
		},
		{name: "secondary rate limit", err: &gh.AbuseRateLimitError{Response: response(403), RetryAfter: secs(17 * time.Second)}, wantRetry: true, wantStatus: 403, wantAfter: 17 * time.Second},
		{name: "secondary rate limit without a time", err: &gh.AbuseRateLimitError{Response: response(429)}, wantRetry: true, wantStatus: 429, wantAfter: time.Minute},
		{name: "secondary rate limit of zero", err: &gh.AbuseRateLimitError{Response: response(403), RetryAfter: secs(0)}, wantRetry: true, wantStatus: 403, wantAfter: time.Minute},
		{name: "two-factor", err: &gh.TwoFactorAuthError{Response: response(401, "X-GitHub-OTP", "required; sms")}, wantStatus: 401},
		{name: "redirect", err: &gh.RedirectionError{Response: response(301), StatusCode: 301}, wantStatus: 301},
		{name: "422", err: &gh.ErrorResponse{Response: response(422)}, wantStatus: 422},
		{name: "403 with X-RateLimit-Remaining 0 and Retry-After", err: &gh.ErrorResponse{Response: response(403, "X-RateLimit-Remaining", "0", "Retry-After", "8")}, wantRetry: true, wantStatus: 403, wantAfter: 8 * time.Second},
		{name: "403 Retry-After 0", err: &gh.ErrorResponse{Response: response(403, "Retry-After", "0")}, wantStatus: 403},
		{name: "504", err: &gh.ErrorResponse{Response: response(504)}, wantRetry: true, wantStatus: 504},
		{name: "cross-host redirect", err: &url.Error{Op: "Get", URL: "https://elsewhere/x", Err: &redirect.Error{Status: 307, Target: "https://elsewhere"}}},
		{name: "refused connection", err: &url.Error{Op: "Get", URL: "https://api.github.com/x", Err: errors.New("dial tcp: connect: connection refused")}, wantRetry: true},
		{name: "unsupported scheme", err: &url.Error{Op: "Get", URL: "ftp://x", Err: errors.New("unsupported protocol scheme \"ftp\"")}},
		{name: "deadline", err: context.DeadlineExceeded, wantRetry: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := githubapp.Classify(tc.err, now)
			if e.Retryable != tc.wantRetry || e.StatusCode != tc.wantStatus || e.RetryAfter != tc.wantAfter {
				t.Errorf("Retryable %v, StatusCode %d, RetryAfter %v; want %v, %d, %v",
					e.Retryable, e.StatusCode, e.RetryAfter, tc.wantRetry, tc.wantStatus, tc.wantAfter)
			}
			// Err is the error, for the caller to mask.
			if e.Err != tc.err {
				t.Errorf("Err = %v, want the error itself", e.Err)
			}
		})
	}
}

func TestResponse(t *testing.T) {
	resp := response(500)
	for _, tc := range []struct {
		name string
		err  error
		want *http.Response
	}{
		{name: "status", err: fmt.Errorf("x: %w", &gh.ErrorResponse{Response: resp}), want: resp},
		{name: "two-factor", err: &gh.TwoFactorAuthError{Response: resp}, want: resp},
		{name: "redirect", err: &gh.RedirectionError{Response: resp}, want: resp},
		{name: "transport", err: errors.New("connection reset")},
		{name: "nil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := githubapp.Response(tc.err); got != tc.want {
				t.Errorf("Response = %p, want %p", got, tc.want)
			}
		})
	}
}

func TestTooManyStatuses(t *testing.T) {
	validation := func(code int, message string, errs ...gh.Error) error {
		return &gh.ErrorResponse{Response: response(code), Message: message, Errors: errs}
	}
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{name: "maximum number of statuses", err: validation(422, "Validation Failed", gh.Error{Resource: "Status", Code: "custom",
			Message: "This SHA and context has reached the maximum number of statuses."}), want: true},
		{name: "too many statuses in the message", err: fmt.Errorf("x: %w", validation(422, "Too many statuses for this commit")), want: true},
		{name: "other validation error", err: validation(422, "Validation Failed", gh.Error{Resource: "Status", Field: "state", Code: "custom"})},
		{name: "not a 422", err: validation(403, "too many statuses")},
		{name: "no response", err: &gh.ErrorResponse{Message: "too many statuses"}},
		{name: "not a GitHub error", err: errors.New("too many statuses")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := githubapp.TooManyStatuses(tc.err); got != tc.want {
				t.Errorf("TooManyStatuses = %v, want %v", got, tc.want)
			}
		})
	}
}

// Client copies its base and leaves it as it was.
func TestClient(t *testing.T) {
	base := &http.Client{Timeout: 3 * time.Second}
	c := githubapp.Client(base)
	if c == base || base.CheckRedirect != nil || c.Timeout != 3*time.Second || c.CheckRedirect == nil {
		t.Errorf("Client(base) = %+v, base now %+v", c, base)
	}
	if c := githubapp.Client(nil); c == nil || c.CheckRedirect == nil {
		t.Errorf("Client(nil) = %+v", c)
	}
}
