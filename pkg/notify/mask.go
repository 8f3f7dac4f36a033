package notify

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"net/url"
	"slices"
	"strings"
)

// minFragment is the shortest piece of an address or header value masked on
// its own. Webhook tokens are long (Slack 24, Discord 68, Teams signatures
// 43 characters); masking short pieces such as "api" would garble errors
// without protecting anything.
const minFragment = 16

// SecretValues lists every value of c that must not appear in an error:
// the address and the parts of it that carry tokens, the token, the password,
// header values, the proxy's credentials and the rest of the main secret.
// NewEndpoint masks them out of every request's error.
func (c Config) SecretValues() []Secret {
	var s []Secret
	s = append(s, AddressFragments(c.Address.Reveal())...)
	s = append(s, c.Token, c.Password)
	if c.Password != "" {
		s = append(s, basicCredentials(c.Username, c.Password.Reveal()))
	}
	for _, v := range c.Headers {
		s = append(s, valueFragments(v.Reveal())...)
	}
	s = append(s, AddressFragments(c.Proxy.Reveal())...)
	for k, v := range c.SecretData {
		// The username is not secret, and masking a short one would garble
		// every word that contains it.
		if k == "username" || len(v) < minFragment && k != "token" && k != "password" {
			continue
		}
		s = append(s, v)
	}
	return s
}

// AddressFragments returns raw, and those parts of the URL raw that a server
// may echo on their own: the path, query, fragment and userinfo, each long
// path segment and query value, and the basic credentials of the userinfo as
// they appear in an Authorization header.
func AddressFragments(raw string) []Secret {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil
	}
	s := []Secret{Secret(raw)}
	u, err := url.Parse(raw)
	if err != nil {
		return s
	}
	// Without scheme and host, as in a request line or a proxy's log.
	if u.Path != "" && u.Path != "/" {
		s = append(s, Secret(u.Path), Secret(u.EscapedPath()))
		if u.RawQuery != "" {
			s = append(s, Secret(u.EscapedPath()+"?"+u.RawQuery))
		}
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		s = append(s, long(seg)...)
	}
	if u.RawQuery != "" {
		s = append(s, Secret(u.RawQuery))
		for _, vs := range u.Query() {
			for _, v := range vs {
				s = append(s, long(v)...)
			}
		}
	}
	if u.Fragment != "" {
		s = append(s, Secret(u.Fragment))
	}
	if u.User != nil {
		s = append(s, Secret(u.User.String()))
		if p, ok := u.User.Password(); ok {
			// A proxy URL's password is often short; mask it whatever its length.
			s = append(s, Secret(p), basicCredentials(u.User.Username(), p))
		}
	}
	return s
}

// valueFragments masks a header value and its long words, e.g. the token of
// "Bearer <token>" when a server echoes only the token. A value that is an
// authentication scheme alone, as "Bearer " + an empty token (Flux sends
// matrix's header without a token), holds no secret: masking it would hide
// every mention of the scheme, in every error.
func valueFragments(v string) []Secret {
	if v = strings.TrimSpace(v); v == "" || authSchemes[strings.ToLower(v)] {
		return nil
	}
	s := []Secret{Secret(v)}
	for _, f := range strings.Fields(v) {
		s = append(s, long(f)...)
	}
	return s
}

// authSchemes are the HTTP authentication schemes of the IANA registry
// (https://www.iana.org/assignments/http-authschemes) and the vendor schemes
// providers send, lowercased. None of them is a secret on its own.
var authSchemes = map[string]bool{
	"basic": true, "bearer": true, "concealed": true, "digest": true, "dpop": true,
	"gnap": true, "hoba": true, "mutual": true, "negotiate": true, "oauth": true,
	"privatetoken": true, "scram-sha-1": true, "scram-sha-256": true, "vapid": true,
	"geniekey": true, "token": true,
}

func long(v string) []Secret {
	if len(v) < minFragment {
		return nil
	}
	return []Secret{Secret(v)}
}

// basicCredentials is the base64 form Basic auth puts on the wire.
func basicCredentials(user, password string) Secret {
	return Secret(base64.StdEncoding.EncodeToString([]byte(user + ":" + password)))
}

// maskAll masks the longest values first: were a short fragment replaced
// first, a longer secret containing it would no longer match as a whole and
// its other parts would survive.
func maskAll(text string, secrets []Secret) string {
	if len(secrets) == 0 {
		return text
	}
	sorted := slices.Clone(secrets)
	slices.SortFunc(sorted, func(a, b Secret) int {
		return cmp.Or(cmp.Compare(len(b), len(a)), strings.Compare(string(a), string(b)))
	})
	return Mask(text, slices.Compact(sorted)...)
}

// maskedError is an error whose text was masked. It unwraps only to
// data-free sentinels (context errors), never to the original error, which
// may hold the URL or a secret in its fields.
type maskedError struct {
	msg   string
	cause error
}

func newMaskedError(err error, secrets []Secret) *maskedError {
	var cause error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	}
	return &maskedError{msg: maskAll(err.Error(), secrets), cause: cause}
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.cause }
