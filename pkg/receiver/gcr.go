package receiver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/heraldhq/herald/pkg/api"
)

// GoogleJWKSURL is where Google publishes the keys that sign its ID tokens,
// those of Pub/Sub push subscriptions included.
const GoogleJWKSURL = "https://www.googleapis.com/oauth2/v3/certs"

// GoogleJWKSURLEnv names the environment variable from which `herald serve`
// and the receiver Lambda read Verifier.GoogleJWKSURL. It is for tests,
// which stand in for Google with a local key set; whoever sets it decides
// which gcr tokens are genuine.
const GoogleJWKSURLEnv = "HERALD_GOOGLE_JWKS_URL"

// VerifierFromEnv returns the Verifier of a process, `herald serve` or the
// receiver Lambda: Google's keys come from GoogleJWKSURLEnv when it is set,
// which must then be an http or https URL.
func VerifierFromEnv() (*Verifier, error) {
	raw := os.Getenv(GoogleJWKSURLEnv)
	if raw == "" {
		return new(Verifier), nil
	}
	if u, err := url.Parse(raw); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("%s must be an http or https URL", GoogleJWKSURLEnv)
	}
	return &Verifier{GoogleJWKSURL: raw}, nil
}

// googleIssuers are the iss values of Google ID tokens.
var googleIssuers = []string{"accounts.google.com", "https://accounts.google.com"}

// googleKeys returns the remote key set of Google's signing keys, one per
// URL, so that its cached keys serve every call.
func (v *Verifier) googleKeys() *oidc.RemoteKeySet {
	keysURL := v.GoogleJWKSURL
	if keysURL == "" {
		keysURL = GoogleJWKSURL
	}
	if ks, ok := v.googleKeySets.get(keysURL); ok {
		return ks
	}
	ks := oidc.NewRemoteKeySet(oidc.ClientContext(context.Background(), v.client()), keysURL)
	v.googleKeySets.put(keysURL, ks)
	return ks
}

// gcrEvent is what Artifact Registry (formerly Container Registry)
// publishes to its Pub/Sub topic.
type gcrEvent struct {
	Action string `json:"action"`
	Digest string `json:"digest"`
	Tag    string `json:"tag"`
}

// pubSubPush is the envelope of a Pub/Sub push subscription.
type pubSubPush struct {
	Message struct {
		Data         string    `json:"data"`
		MessageID    string    `json:"messageId"`
		PublishTime  time.Time `json:"publishTime"`
		Subscription string    `json:"subscription"`
	} `json:"message"`
}

// verifyGCR authenticates a Pub/Sub push as Flux 1.9 does: a Google ID token
// for the secret's audience, issued by Google to the secret's service
// account email, verified. The filters see the event inside the envelope.
func verifyGCR(ctx context.Context, v *Verifier, _ *api.Receiver, secret map[string][]byte, _ []byte, req *Request) (Result, error) {
	email := string(secret["email"])
	if email == "" {
		return Result{}, badRequest("invalid secret data: required field 'email' for GCR receiver")
	}
	audience := string(secret["audience"])
	if audience == "" {
		return Result{}, badRequest("invalid secret data: required field 'audience' for GCR receiver")
	}
	if err := v.authenticateGoogle(ctx, req.Header, email, audience); err != nil {
		return Result{}, badRequest("cannot authenticate GCR request: %v", err)
	}

	var push pubSubPush
	// A decoder, as in Flux: what follows the envelope is ignored.
	if err := json.NewDecoder(bytes.NewReader(req.Body)).Decode(&push); err != nil {
		return Result{}, badRequest("cannot decode GCR webhook payload: %v", err)
	}
	data, err := base64.StdEncoding.DecodeString(push.Message.Data)
	if err != nil {
		return Result{}, badRequest("cannot decode GCR webhook body: message.data is not base64: %v", err)
	}
	var event gcrEvent
	if err := json.Unmarshal(data, &event); err != nil {
		return Result{}, badRequest("cannot decode GCR webhook body: %v", err)
	}
	// Flux hands its filters the event re-encoded: these three fields.
	body, err := json.Marshal(event)
	if err != nil {
		return Result{}, badRequest("cannot decode GCR webhook body: %v", err)
	}
	return Result{Body: body}, nil
}

// authenticateGoogle checks the bearer ID token of a push: Google's
// signature, expiry, audience, a Google issuer, and the expected email,
// verified. Its errors carry Flux's messages and never the token.
func (v *Verifier) authenticateGoogle(ctx context.Context, h http.Header, email, audience string) error {
	token, ok := strings.CutPrefix(h.Get("Authorization"), "Bearer ")
	if !ok {
		return fmt.Errorf("the Authorization header is missing or malformed")
	}
	// Either Google issuer is accepted below; go-oidc checks one at most.
	verifier := oidc.NewVerifier(googleIssuers[1], v.googleKeys(), &oidc.Config{ClientID: audience, SkipIssuerCheck: true})
	idToken, err := verifier.Verify(ctx, token)
	if err != nil {
		return fmt.Errorf("invalid ID token: audience is '%s', want '%s': %s", clip(unverifiedAudience(token)), audience, safeText(err, token))
	}
	var claims struct {
		Iss           string `json:"iss"`
		Email         any    `json:"email"`
		EmailVerified any    `json:"email_verified"`
	}
	if err := idToken.Claims(&claims); err != nil {
		return fmt.Errorf("invalid ID token claims: %s", safeText(err, token))
	}
	if claims.Iss != googleIssuers[0] && claims.Iss != googleIssuers[1] {
		return fmt.Errorf("token issuer is '%s', want 'accounts.google.com' or 'https://accounts.google.com'", clip(claims.Iss))
	}
	// Only a JSON string and a JSON true count, as with Google's validator.
	gotEmail, _ := claims.Email.(string)
	if gotEmail != email {
		return fmt.Errorf("token email is '%s', want '%s'", clip(gotEmail), email)
	}
	if verified, _ := claims.EmailVerified.(bool); !verified {
		return fmt.Errorf("token email '%s' is not verified", gotEmail)
	}
	return nil
}

// unverifiedAudience is the aud of a token that failed verification, for
// the error only, as Flux reports it; "<unknown>" when there is none.
func unverifiedAudience(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "<unknown>"
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "<unknown>"
	}
	var claims struct {
		Aud any `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return "<unknown>"
	}
	if aud, ok := claims.Aud.(string); ok && aud != "" {
		return aud
	}
	return "<unknown>"
}
