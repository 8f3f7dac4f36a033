package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/redirect"
)

// DefaultOIDCAudience is the audience a generic-oidc token must carry when
// its oidcProvider names none, as in Flux.
const DefaultOIDCAudience = "notification-controller"

// issuerTTL is how long a discovery document is trusted before the next
// call discovers the issuer again. The key set refreshes on its own when a
// token names an unknown key; rediscovery only catches an issuer that moved
// its jwks_uri, so it can be rare.
const issuerTTL = time.Hour

// clientTimeout bounds one discovery or key set request of the default
// client.
const clientTimeout = 10 * time.Second

// issuer is a discovered OIDC issuer: its provider holds the one remote key
// set all calls share, which fetches the keys again when a token names a
// key it does not know, so a rotation needs no restart.
type issuer struct {
	provider   *oidc.Provider
	discovered time.Time
}

func (v *Verifier) client() *http.Client {
	if v.Client != nil {
		return v.Client
	}
	v.defaultClientOnce.Do(func() {
		v.defaultClient = &http.Client{Timeout: clientTimeout, CheckRedirect: redirect.Check}
	})
	return v.defaultClient
}

// issuer returns the provider of issuerURL, discovering it on first use and
// after issuerTTL. A failed discovery is not cached: the next call tries
// again.
func (v *Verifier) issuer(ctx context.Context, issuerURL string) (*oidc.Provider, error) {
	if iss, ok := v.issuers.get(issuerURL); ok && time.Since(iss.discovered) < issuerTTL {
		return iss.provider, nil
	}
	// Two calls may discover the same issuer at once; the last one stored
	// wins, and both are correct.
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, v.client()), issuerURL)
	if err != nil {
		return nil, err
	}
	v.issuers.put(issuerURL, &issuer{provider: p, discovered: time.Now()})
	return p, nil
}

// bearerToken is the token of an Authorization: Bearer header, with Flux's
// generic-oidc messages.
func bearerToken(h http.Header) (string, error) {
	raw, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return "", errors.New("the Authorization header is missing or malformed")
	}
	token := strings.TrimSpace(raw)
	if token == "" {
		return "", errors.New("the Authorization header is missing a bearer token")
	}
	return token, nil
}

// unverifiedIssuer reads iss from a JWT's payload without checking its
// signature. It only picks the oidcProvider to verify the token with; no
// claim is trusted before that verification.
func unverifiedIssuer(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("failed to decode token payload: %w", err)
	}
	var claims struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("failed to parse token payload: %w", err)
	}
	if claims.Iss == "" {
		return "", errors.New("token is missing the 'iss' claim")
	}
	return claims.Iss, nil
}

// verifyGenericOIDC verifies a bearer JWT with the oidcProvider its issuer
// names (§5.4): signature, expiry, issuer and audience, then the provider's
// CEL variables and validations over the verified claims, which it returns
// for the resource filters.
func verifyGenericOIDC(ctx context.Context, v *Verifier, rcv *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	if len(rcv.Spec.OIDCProviders) == 0 {
		return Result{}, badRequest("generic-oidc receiver has no oidcProviders configured")
	}
	token, err := bearerToken(req.Header)
	if err != nil {
		return Result{}, badRequest("%v", err)
	}
	iss, err := unverifiedIssuer(token)
	if err != nil {
		return Result{}, badRequest("failed to parse bearer token: %s", safeText(err, token))
	}
	var provider *api.OIDCProvider
	for i := range rcv.Spec.OIDCProviders {
		if rcv.Spec.OIDCProviders[i].IssuerURL == iss {
			provider = &rcv.Spec.OIDCProviders[i]
			break
		}
	}
	if provider == nil {
		return Result{}, badRequest("no oidcProvider configured for issuer %q", clip(iss))
	}

	idp, err := v.issuer(ctx, provider.IssuerURL)
	if err != nil {
		return Result{}, badRequest("failed to initialize OIDC provider for issuer %q: %s", provider.IssuerURL, safeText(err, token))
	}
	audience := provider.Audience
	if audience == "" {
		audience = DefaultOIDCAudience
	}
	idToken, err := idp.Verifier(&oidc.Config{ClientID: audience}).Verify(ctx, token)
	if err != nil {
		return Result{}, badRequest("failed to verify OIDC token: %s", safeText(err, token))
	}
	var claims map[string]any
	if err := idToken.Claims(&claims); err != nil {
		return Result{}, badRequest("failed to extract OIDC token claims: %s", safeText(err, token))
	}
	if claims == nil {
		// A payload of JSON null verifies; the expressions see {}.
		claims = map[string]any{}
	}

	rules, err := v.claimRules(provider)
	if err != nil {
		return Result{}, badRequest("invalid oidcProvider configuration for issuer %q: %v", provider.IssuerURL, err)
	}
	if err := rules.evaluate(ctx, claims); err != nil {
		return Result{}, badRequest("%s", safeText(err, token))
	}
	return Result{Body: req.Body, Claims: claims}, nil
}

// maxQuoted is how much of a caller's value an error quotes: enough to
// recognise it, not enough to fill the log with an attacker's text.
const maxQuoted = 200

// clip shortens a value from an unverified token for an error message.
func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return strings.ToValidUTF8(s[:maxQuoted], "") + "…"
}

// safeText is err's text unless it quotes the bearer token or a long part
// of it (a library may echo its input): then only that the details are
// withheld. Webhook refusals are logged and returned to the caller, and a
// token in either is a credential anyone who reads them can replay until it
// expires.
func safeText(err error, token string) string {
	msg := err.Error()
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 16 && strings.Contains(msg, part) {
			return "details withheld: they quote the token"
		}
	}
	if token != "" && strings.Contains(msg, token) {
		return "details withheld: they quote the token"
	}
	return msg
}
