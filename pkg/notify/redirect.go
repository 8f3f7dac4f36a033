package notify

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MaxRedirects is how many redirects one request follows at most: Go's
// default and Flux's (go-retryablehttp's client).
const MaxRedirects = 10

// ErrRedirect matches every *RedirectError with errors.Is.
var ErrRedirect = errors.New("redirect not followed")

// RedirectError is a redirect that CheckRedirect refused to follow. Its
// text names the status and the target's scheme, host and port, never the
// target's userinfo, path or query: a server that redirects may well copy
// the webhook's secret path into the Location.
type RedirectError struct {
	// Status is the status of the answer that redirected.
	Status int
	// Target is scheme://host[:port] of the Location.
	Target string
	// TooMany says the limit of MaxRedirects ran out; Target is then empty.
	TooMany bool
}

func (e *RedirectError) Error() string {
	if e.TooMany {
		// Go's own text, which go-retryablehttp (and so Flux) matches.
		return fmt.Sprintf("stopped after %d redirects", MaxRedirects)
	}
	return fmt.Sprintf("%s: %d %s to %s", refusedRedirect, e.Status, http.StatusText(e.Status), e.Target)
}

// refusedRedirect starts the text of a RedirectError to another host, which
// the classifier also matches in SDK errors that flatten it (oauth2's).
const refusedRedirect = "refusing to follow a redirect to another host"

// Is makes errors.Is(err, ErrRedirect) true.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// CheckRedirect is the one redirect policy of every HTTP client a provider
// sends with, SDKs included (http.Client.CheckRedirect). It follows at most
// MaxRedirects redirects, and only to the scheme, host and port of the
// first request, the one the Provider configured. Anywhere else it stops
// with a *RedirectError, before a byte goes out: net/http drops only
// Authorization and Cookie on the way to another host, and would send the
// other headers (a secret X-Api-Key), the body on 307 and 308, and a
// Referer holding the whole webhook URL. It removes the Referer that
// net/http adds to every hop, since the URL is the secret of most webhooks.
// A redirect on the same host keeps its headers, which go nowhere new.
func CheckRedirect(req *http.Request, via []*http.Request) error {
	req.Header.Del("Referer")
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	if len(via) >= MaxRedirects {
		return &RedirectError{Status: status, TooMany: true}
	}
	if len(via) > 0 && !sameOrigin(via[0].URL, req.URL) {
		return &RedirectError{Status: status, Target: origin(req.URL)}
	}
	return nil
}

// RedirectSafe returns a copy of c (DefaultClient when nil) whose redirects
// follow CheckRedirect. The copy shares c's transport, and with it the
// connection pool.
func RedirectSafe(c *http.Client) *http.Client {
	if c == nil {
		c = DefaultClient()
	}
	safe := *c
	safe.CheckRedirect = CheckRedirect
	return &safe
}

// sameOrigin compares scheme, host and port, with the scheme's default port
// when none is given, as browsers compare origins.
func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(a.Hostname(), b.Hostname()) &&
		port(a) == port(b)
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// origin is what a RedirectError shows of a target.
func origin(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
