package googlepubsub

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/heraldhq/herald/pkg/notify"
)

const (
	// Scope is the OAuth scope of the Pub/Sub API
	// (https://developers.google.com/identity/protocols/oauth2/scopes#pubsub).
	Scope = "https://www.googleapis.com/auth/pubsub"
	// DefaultTokenURI is Google's token endpoint, for key files without
	// token_uri.
	DefaultTokenURI = "https://oauth2.googleapis.com/token"
)

// serviceAccount holds the fields of a service-account key file that the
// JWT-bearer flow needs (https://google.aip.dev/auth/4112).
type serviceAccount struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// parseServiceAccount reads the secret's token as Flux's
// option.WithCredentialsJSON would, for service-account keys only. Errors
// name the field that is wrong, never its value, nor the JSON decoder's
// reason, which quotes the text around the fault.
func parseServiceAccount(token notify.Secret) (serviceAccount, error) {
	var sa serviceAccount
	invalid := func(reason string) (serviceAccount, error) {
		return serviceAccount{}, errors.New("googlepubsub: invalid GCP credentials in the secret's token: " + reason)
	}
	if err := json.Unmarshal([]byte(token.Reveal()), &sa); err != nil {
		return invalid("not a JSON key file")
	}
	switch {
	case sa.Type != "service_account":
		return invalid(`only "type": "service_account" keys are supported`)
	case sa.ClientEmail == "":
		return invalid("client_email is missing")
	case sa.PrivateKey == "":
		return invalid("private_key is missing")
	}
	if !isRSAKey([]byte(sa.PrivateKey)) {
		return invalid("private_key is not an RSA key in PEM-encoded PKCS #8 or PKCS #1")
	}
	if sa.TokenURI == "" {
		sa.TokenURI = DefaultTokenURI
	}
	if u, err := url.ParseRequestURI(sa.TokenURI); err != nil || u.Host == "" {
		return invalid("token_uri is not an absolute URL")
	}
	return sa, nil
}

// isRSAKey accepts the keys golang.org/x/oauth2/jwt signs with (its
// internal.ParseKey), so that a bad key fails in New, not on every event.
func isRSAKey(key []byte) bool {
	if block, _ := pem.Decode(key); block != nil {
		key = block.Bytes
	}
	if k, err := x509.ParsePKCS8PrivateKey(key); err == nil {
		_, ok := k.(*rsa.PrivateKey)
		return ok
	}
	_, err := x509.ParsePKCS1PrivateKey(key)
	return err == nil
}

// tokenSource signs a JWT with the key and trades it for an access token
// at token_uri (RFC 7523). jwt.Config.TokenSource already wraps the source
// in oauth2.ReuseTokenSource, so a token is reused until 10 s before it
// expires. Tokens are fetched with client, which carries the proxy; its
// Timeout bounds a fetch that Notify stopped waiting for.
func tokenSource(sa serviceAccount, client *http.Client) oauth2.TokenSource {
	conf := &jwt.Config{
		Email:        sa.ClientEmail,
		PrivateKey:   []byte(sa.PrivateKey),
		PrivateKeyID: sa.PrivateKeyID,
		Scopes:       []string{Scope},
		TokenURL:     sa.TokenURI,
	}
	return conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, client))
}

// token returns a valid access token, waiting no longer than ctx allows:
// oauth2.TokenSource takes no context, so a slow fetch goes on in the
// background, bounded by the token client's Timeout, and a token it gets
// is cached for the next attempt.
func (n *Notifier) token(ctx context.Context) (*oauth2.Token, error) {
	type result struct {
		tok *oauth2.Token
		err error
	}
	done := make(chan result, 1)
	go func() {
		tok, err := n.tokens.Token()
		done <- result{tok, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return nil, n.tokenError(r.err)
		}
		if r.tok.AccessToken == "" {
			return nil, notify.Retryable(errors.New("fetching a GCP access token failed: the reply holds no access_token"))
		}
		return r.tok, nil
	case <-ctx.Done():
		return nil, notify.Retryable(fmt.Errorf("fetching a GCP access token failed: %w", ctx.Err()))
	}
}

// tokenError classifies a failed fetch by the token endpoint's status as
// the shared classifier does (429 and 5xx retry; 400 invalid_grant, 401
// and 403 do not). Errors without a reply are classified as the shared
// poster classifies them: a network or proxy error is retried, a TLS
// failure or a redirect to another host (which would carry the signed
// assertion away) is not.
// Of a reply only RFC 6749 §5.2's error and error_description are kept:
// an endpoint that echoes the request would put the signed assertion,
// itself good for an hour of tokens, into the body.
func (n *Notifier) tokenError(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.Response == nil {
		// No reply, so no Retry-After date for a clock to resolve.
		retry := notify.IsRetryable(notify.Classify(http.MethodPost, nil, nil, err, time.Time{}))
		return notify.MaskError(fmt.Errorf("fetching a GCP access token failed: %w", err), retry, n.ep.Secrets...)
	}
	code := re.Response.StatusCode
	msg := fmt.Sprintf("fetching a GCP access token failed with status code %d", code)
	var reply struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(re.Body, &reply) == nil && reply.Error != "" {
		msg += ": " + clip(reply.Error)
		if reply.Description != "" {
			msg += ": " + clip(reply.Description)
		}
	}
	e := notify.MaskError(errors.New(msg), notify.RetryableStatus(code), n.ep.Secrets...)
	e.StatusCode = code
	return e
}

// clip bounds a server-chosen string in an error.
func clip(s string) string {
	const limit = 256
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return s
}
