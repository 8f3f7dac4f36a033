// Package redirect is the one redirect policy of every HTTP client Herald
// builds with a secret in it: the providers' (pkg/notify) and the webhook
// receivers' OIDC discovery (pkg/receiver). It is a package of its own so
// that both can use it without depending on each other.
package redirect

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Max is how many redirects one request follows at most: Go's
// default and Flux's (go-retryablehttp's client).
const Max = 10

// ErrNotFollowed matches every *Error with errors.Is.
var ErrNotFollowed = errors.New("redirect not followed")

// Error is a redirect that Check refused to follow. Its
// text names the status and the target's scheme, host and port, never the
// target's userinfo, path or query: a server that redirects may well copy
// the webhook's secret path into the Location.
type Error struct {
	// Status is the status of the answer that redirected.
	Status int
	// Target is scheme://host[:port] of the Location.
	Target string
	// TooMany says the limit of Max ran out; Target is then empty.
	TooMany bool
}

func (e *Error) Error() string {
	if e.TooMany {
		// Go's own text, which go-retryablehttp (and so Flux) matches.
		return fmt.Sprintf("stopped after %d redirects", Max)
	}
	return fmt.Sprintf("%s: %d %s to %s", RefusedText, e.Status, http.StatusText(e.Status), e.Target)
}

// RefusedText starts the text of an Error to another host, which
// notify's classifier also matches in SDK errors that flatten it (oauth2's).
const RefusedText = "refusing to follow a redirect to another host"

// Is makes errors.Is(err, ErrNotFollowed) true.
func (e *Error) Is(target error) bool { return target == ErrNotFollowed }

// Check is the redirect policy (http.Client.CheckRedirect) of every HTTP
// client that carries a secret, SDKs included. It follows at most
// Max redirects, and only to the scheme, host and port of the
// first request, the one the caller configured. Anywhere else it stops
// with a *Error, before a byte goes out: net/http drops only
// Authorization and Cookie on the way to another host, and would send the
// other headers (a secret X-Api-Key), the body on 307 and 308, and a
// Referer holding the whole webhook URL. It removes the Referer that
// net/http adds to every hop, since the URL is the secret of most webhooks.
// A redirect on the same host keeps its headers, which go nowhere new.
func Check(req *http.Request, via []*http.Request) error {
	req.Header.Del("Referer")
	status := 0
	if req.Response != nil {
		status = req.Response.StatusCode
	}
	if len(via) >= Max {
		return &Error{Status: status, TooMany: true}
	}
	if len(via) > 0 && !sameOrigin(via[0].URL, req.URL) {
		return &Error{Status: status, Target: origin(req.URL)}
	}
	return nil
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

// origin is what a Error shows of a target.
func origin(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
