// Package statushttp holds what the commit-status providers that speak
// plain REST over the shared poster (Bitbucket Cloud and Server) share,
// and the client the Azure DevOps SDK uses too: a client that follows
// redirects by redirect.Check, a GET that reads a status or
// tolerates its absence, and Flux's error prefixes on classified errors.
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

// errorBodyLimit is how much of a failed answer goes into an error, as the
// shared poster caps it.
const errorBodyLimit = 4 << 10

// Client returns a copy of base (notify.DefaultClient() when nil) that
// follows redirects by redirect.Check, on the same host only, and
// sends no Content-Type on a GET without a body, as the Bitbucket clients
// Flux uses do. The copy shares base's transport, and with it the
// connection pool.
func Client(base *http.Client) *http.Client {
	hc := notify.RedirectSafe(base)
	hc.Transport = bareGet{base: hc.Transport}
	return hc
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
// its classification.
func Wrap(prefix string, err error) error {
	if err == nil {
		return nil
	}
	var e *notify.Error
	if !errors.As(err, &e) {
		return notify.Permanent(fmt.Errorf("%s%w", prefix, err))
	}
	return &notify.Error{Retryable: e.Retryable, RetryAfter: e.RetryAfter, StatusCode: e.StatusCode, Err: fmt.Errorf("%s%w", prefix, e.Err)}
}
