package githubapp

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/redirect"
)

// SecondaryLimitWait is how long GitHub asks clients to wait after a
// secondary rate limit that names no time: "at least one minute"
// (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit).
const SecondaryLimitWait = time.Minute

// Classify turns the error of a go-github call into a *notify.Error by the
// shared classifier's rules (408, 429 and 5xx but 501 retried with
// Retry-After honoured; transport errors as notify.Classify says), with
// GitHub's rate limits as the documented exception (see SecondaryLimitWait's
// link): a 403 or 429 that carries Retry-After waits for it; one with
// X-RateLimit-Remaining: 0 waits for X-RateLimit-Reset; a secondary limit
// without either waits a minute. go-github answers later calls itself,
// without a request, until such a limit passes. The result's Err is err,
// unmasked: the caller masks it.
func Classify(err error, now time.Time) *notify.Error {
	var (
		primary   *github.RateLimitError
		secondary *github.AbuseRateLimitError
		classed   *notify.Error
	)
	e := &notify.Error{Err: err}
	switch {
	case errors.As(err, &classed):
		return &notify.Error{Retryable: classed.Retryable, RetryAfter: classed.RetryAfter, StatusCode: classed.StatusCode, Err: err}
	case errors.As(err, &primary):
		e.Retryable = true
		e.StatusCode = statusOf(primary.Response)
		e.RetryAfter = max(primary.Rate.Reset.Sub(now), 0)
		if ra := retryAfter(primary.Response, now); ra > 0 {
			e.RetryAfter = ra
		}
	case errors.As(err, &secondary):
		e.Retryable = true
		e.StatusCode = statusOf(secondary.Response)
		e.RetryAfter = secondary.GetRetryAfter()
		if e.RetryAfter <= 0 {
			e.RetryAfter = SecondaryLimitWait
		}
	case errors.Is(err, redirect.ErrNotFollowed):
		// Permanent: the server will redirect again.
	default:
		resp := Response(err)
		if resp == nil {
			e.Retryable = notify.IsRetryable(notify.Classify(http.MethodGet, nil, nil, err, now))
			return e
		}
		e.StatusCode = resp.StatusCode
		e.Retryable = notify.RetryableStatus(resp.StatusCode)
		if ra := retryAfter(resp, now); ra > 0 && (e.Retryable || rateLimited(resp)) {
			e.Retryable, e.RetryAfter = true, ra
		}
	}
	return e
}

// rateLimited reports a 403 or 429 carrying GitHub's rate-limit headers.
func rateLimited(resp *http.Response) bool {
	return (resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests) &&
		(resp.Header.Get("Retry-After") != "" || resp.Header.Get("X-RateLimit-Remaining") == "0")
}

func retryAfter(resp *http.Response, now time.Time) time.Duration {
	if resp == nil {
		return 0
	}
	return notify.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
}

func statusOf(resp *http.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// Response is the HTTP response behind a go-github error, or nil.
func Response(err error) *http.Response {
	var (
		status   *github.ErrorResponse
		otp      *github.TwoFactorAuthError
		redirect *github.RedirectionError
	)
	switch {
	case errors.As(err, &status):
		return status.Response
	case errors.As(err, &otp):
		return otp.Response
	case errors.As(err, &redirect):
		return redirect.Response
	}
	return nil
}

// TooManyStatuses reports GitHub's refusal of a status beyond the 1,000 a
// commit may have per context: a 422 validation error
// (https://docs.github.com/rest/commits/statuses#create-a-commit-status).
// It is permanent; callers log it.
func TooManyStatuses(err error) bool {
	var status *github.ErrorResponse
	if !errors.As(err, &status) || status.Response == nil || status.Response.StatusCode != http.StatusUnprocessableEntity {
		return false
	}
	text := strings.ToLower(status.Message + fmt.Sprint(status.Errors))
	return strings.Contains(text, "too many statuses") || strings.Contains(text, "maximum number of statuses")
}

// Client returns a copy of base (notify.DefaultClient() when nil) that
// follows redirects by redirect.Check: on the API host only (GitHub
// answers 307 for a renamed repository). go-github v93 sets its token only
// on requests to the API origin, but the other headers and the body would
// still go.
func Client(base *http.Client) *http.Client {
	return notify.RedirectSafe(base)
}
