// Package gitsdk holds what the SDK-based Git providers (gitlab, gitea and
// the change-request comment providers) share beyond package commitstatus:
// classifying an SDK call's outcome by the shared rules, the secrets their
// errors must not show, the token fallback, and the change-request comment
// of behaviour reference §4.4 (marker, body, change_request metadata).
package gitsdk

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/redirect"
)

// Token is cfg.Token, or cfg.Password when the token is empty, as Flux
// reads the secrets of gitlab, gitea and github* providers (§4.0).
func Token(cfg notify.Config) notify.Secret {
	if cfg.Token != "" {
		return cfg.Token
	}
	return cfg.Password
}

// Client is cfg's HTTP client (proxy and TLS) with redirects followed on
// the same host only (redirect.Check), so that a token header never
// goes to another host.
func Client(cfg notify.Config) *http.Client {
	return cfg.Client()
}

// Classify turns an SDK call's outcome into a *notify.Error by the shared
// rules: with a response, 408, 429 and 5xx but 501 are retryable and
// Retry-After is honoured; other statuses (401, 403, 404, 422, ...) are
// permanent. Without one, transport errors are classified as the shared
// poster classifies them, and a refused cross-host redirect is permanent.
// Err is err, unmasked: callers use Fail.
func Classify(resp *http.Response, err error, now time.Time) *notify.Error {
	e := &notify.Error{Err: err}
	switch {
	case errors.Is(err, redirect.ErrNotFollowed):
		return e
	case resp != nil && (resp.StatusCode < 200 || resp.StatusCode > 299):
		e.StatusCode = resp.StatusCode
		e.Retryable = notify.RetryableStatus(resp.StatusCode)
		if e.Retryable {
			e.RetryAfter = notify.ParseRetryAfter(resp.Header.Get("Retry-After"), now)
		}
	default:
		e.Retryable = notify.IsRetryable(notify.Classify(http.MethodGet, nil, nil, err, now))
	}
	return e
}

// Fail classifies an SDK call's error and masks secrets out of
// prefix + its text, Flux's wording.
func Fail(prefix string, resp *http.Response, err error, now time.Time, secrets []notify.Secret) error {
	e := Classify(resp, err, now)
	e.Err = notify.MaskError(fmt.Errorf("%s%w", prefix, err), e.Retryable, secrets...).Err
	return e
}

// Secrets is what the errors of a repository provider must not show:
// every secret of cfg but the repository URL, whose project path the SDKs'
// errors name and which tells the user what failed; only the address's
// userinfo is secret there.
func Secrets(cfg notify.Config) []notify.Secret {
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

// The marker prefixes of Flux's comment providers.
const (
	PRCommentKey = "flux-pr-comment-key" // GitHub and Gitea
	MRCommentKey = "flux-mr-comment-key" // GitLab
)

// Marker identifies a provider's comment for one object:
// <!-- <prefix>:<providerUID>/<Kind>/<namespace>/<name> -->.
func Marker(prefix, providerUID string, ev event.Event) string {
	o := ev.InvolvedObject
	return "<!-- " + prefix + ":" + providerUID + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name + " -->"
}

// CommentBody is the marker, a blank line and the shared Markdown post.
func CommentBody(marker string, ev event.Event) string {
	return marker + "\n\n" + notify.MarkdownPost(ev)
}

// ChangeRequest reads the change_request metadata as Flux does, with its
// texts. GitLab's parses with strconv.ParseInt, GitHub's and Gitea's with
// strconv.Atoi, whose errors name the function: parse is the one to use.
func ChangeRequest(ev event.Event, parse func(string) (int64, error)) (int64, error) {
	v, ok := ev.Metadata[event.MetaChangeRequest]
	if !ok {
		return 0, fmt.Errorf("missing %q metadata key", event.MetaChangeRequest)
	}
	n, err := parse(v)
	if err != nil {
		return 0, fmt.Errorf("invalid %q metadata value %q: %w", event.MetaChangeRequest, v, err)
	}
	return n, nil
}

// ParseInt is GitLab's parse: strconv.ParseInt base 10, 64 bits.
func ParseInt(s string) (int64, error) { return strconv.ParseInt(s, 10, 64) }

// Atoi is GitHub's and Gitea's parse: strconv.Atoi.
func Atoi(s string) (int64, error) {
	n, err := strconv.Atoi(s)
	return int64(n), err
}
