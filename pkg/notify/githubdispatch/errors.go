package githubdispatch

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
)

// errorPrefix is Flux's text for every failed dispatch.
const errorPrefix = "Could not send github repository dispatch webhook: "

// classify turns go-github's outcome into one classified, masked error, by
// the shared classifier's rules: 408, 429 and 5xx but 501 are retried, with
// Retry-After honoured, and transport errors as notify.Classify says.
// GitHub's rate limits are the documented exception
// (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit):
// a 403 or 429 with X-RateLimit-Remaining: 0 waits for X-RateLimit-Reset,
// a secondary limit for its Retry-After. go-github types both, and answers
// them without a request until they pass.
func (n *Notifier) classify(err error) error {
	var (
		primary   *github.RateLimitError
		secondary *github.AbuseRateLimitError
	)
	now := n.Now()
	e := &notify.Error{}
	switch {
	case err == nil:
		return nil
	case errors.As(err, &primary):
		e.Retryable, e.StatusCode = true, primary.Response.StatusCode
		e.RetryAfter = max(primary.Rate.Reset.Sub(now), 0)
	case errors.As(err, &secondary):
		e.Retryable, e.StatusCode = true, secondary.Response.StatusCode
		e.RetryAfter = max(secondary.GetRetryAfter(), 0)
	case errors.Is(err, errCrossHostRedirect):
		// Permanent: the server will redirect again.
	default:
		if resp := response(err); resp != nil {
			e.StatusCode = resp.StatusCode
			e.Retryable = notify.RetryableStatus(resp.StatusCode)
			if e.Retryable {
				e.RetryAfter = notify.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
			}
		} else {
			e.Retryable = notify.IsRetryable(notify.Classify(http.MethodPost, nil, nil, err, now))
		}
	}
	// Flux's text with the secrets masked, unwrapping only to a context
	// error, never to go-github's, whose fields hold the request.
	e.Err = notify.MaskError(fmt.Errorf("%s%w", errorPrefix, err), false, n.secrets...).Err
	return e
}

// response is the HTTP response behind a go-github status error.
func response(err error) *http.Response {
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

// maskList is what errors must not show: every secret of cfg but the
// repository URL. go-github's errors name the API URL, and its owner/repo
// path tells the user which dispatch failed; only the address's userinfo
// is secret there.
func maskList(cfg notify.Config) []notify.Secret {
	c := cfg
	c.Address = ""
	secrets := c.SecretValues()
	if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.User != nil {
		secrets = append(secrets, notify.Secret(u.User.String()))
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, notify.Secret(p))
		}
	}
	return secrets
}
