// Package statushttp holds what the commit-status providers that speak
// plain REST over the shared poster (Bitbucket Cloud and Server) share, and
// the redirect rule that the Azure DevOps SDK's client follows too: a client
// that never carries credentials to another host, a GET that reads a status
// or tolerates its absence, and Flux's error prefixes on classified errors.
package statushttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/heraldhq/herald/pkg/notify"
)

// maxRedirects is Go's default and Flux's (go-retryablehttp's client).
const maxRedirects = 10

// errorBodyLimit is how much of a failed answer goes into an error, as the
// shared poster caps it.
const errorBodyLimit = 4 << 10

// SameHost is a CheckRedirect that follows at most ten redirects, on the
// scheme and host of the first request only. A redirect anywhere else is
// not followed: the client returns the redirect itself, which the shared
// classifier turns into a permanent error (see Wrap). Go's client would drop
// the Authorization header on its way to another host but still send the
// other headers and, on 307 and 308, the body.
func SameHost(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return http.ErrUseLastResponse
	}
	return nil
}

// Client returns a copy of base (notify.DefaultClient() when nil) that
// follows redirects on the same host only and sends no Content-Type on a
// GET without a body, as the Bitbucket clients Flux uses do. The copy shares
// base's transport, and with it the connection pool.
func Client(base *http.Client) *http.Client {
	if base == nil {
		base = notify.DefaultClient()
	}
	hc := *base
	hc.CheckRedirect = SameHost
	hc.Transport = bareGet{base: base.Transport}
	return &hc
}

// bareGet removes the Content-Type the shared poster sets on every request
// from GETs that carry no body.
type bareGet struct{ base http.RoundTripper }

func (t bareGet) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.Method == http.MethodGet && req.ContentLength == 0 && req.Header.Get("Content-Type") != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Content-Type")
	}
	return base.RoundTrip(req)
}

// Get makes one GET to ep's address and decodes a 2xx JSON answer into out.
// A 404 is no error: found is false, as the status does not exist yet. So
// is an answer that does not decode, so that the caller sets the status
// rather than give up on a body it cannot read. Every other outcome is
// classified by the shared rules.
func Get(ctx context.Context, ep notify.Endpoint, out any, opts ...notify.PostOption) (found bool, err error) {
	var (
		code int
		body []byte
	)
	validate := func(status int, b []byte) error {
		code = status
		if status == http.StatusNotFound {
			return nil
		}
		if status >= 200 && status <= 299 {
			body = b
			return nil
		}
		if len(b) > errorBodyLimit {
			b = b[:errorBodyLimit]
		}
		// Retryable statuses never reach a validator, so no Retry-After is lost.
		return notify.Classify(http.MethodGet, &http.Response{StatusCode: status, Header: http.Header{}}, b, nil, time.Now())
	}
	opts = append(opts[:len(opts):len(opts)], notify.WithResponseValidator(validate))
	if err := ep.Send(ctx, http.MethodGet, nil, opts...); err != nil {
		return false, err
	}
	if code == http.StatusNotFound || json.Unmarshal(body, out) != nil {
		return false, nil
	}
	return true, nil
}

// Wrap puts Flux's prefix before the text of a classified error, keeping
// its classification. A redirect the client refused to follow (a 3xx
// answer) says so.
func Wrap(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var e *notify.Error
	if !errors.As(err, &e) {
		return notify.Permanent(fmt.Errorf("%s%w", prefix, err))
	}
	if e.StatusCode >= 300 && e.StatusCode <= 399 {
		prefix += ErrCrossHostRedirect.Error() + ": "
	}
	return &notify.Error{Retryable: e.Retryable, RetryAfter: e.RetryAfter, StatusCode: e.StatusCode, Err: fmt.Errorf("%s%w", prefix, e.Err)}
}

// ErrCrossHostRedirect names a redirect that was not followed.
var ErrCrossHostRedirect = errors.New("refusing to follow a redirect to another host")
