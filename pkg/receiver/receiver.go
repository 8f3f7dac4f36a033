// Package receiver verifies webhook calls for Flux Receivers and turns them
// into reconcile requests, as Flux's receiver server does (behaviour
// reference §5). Each receiver type is one verifier in a map.
package receiver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/heraldhq/herald/pkg/api"
)

// HookPrefix is the path prefix of every webhook URL.
const HookPrefix = "/hook/"

// Digest is Flux's webhook digest: the hex SHA-256 of the raw token, the
// Receiver's name and its namespace, concatenated. Herald uses the same one
// so that a webhook URL survives a move from Flux to Herald.
func Digest(token []byte, name, namespace string) string {
	h := sha256.New()
	h.Write(token)
	h.Write([]byte(name))
	h.Write([]byte(namespace))
	return hex.EncodeToString(h.Sum(nil))
}

// Path is the webhook path of a Receiver with token.
func Path(token []byte, name, namespace string) string {
	return HookPrefix + Digest(token, name, namespace)
}

// Request is a webhook call: its headers and raw body.
type Request struct {
	Header http.Header
	Body   []byte
}

// Error is a refused webhook call and the status it earns.
type Error struct {
	Status int
	Err    error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Err: fmt.Errorf(format, args...)}
}

// Result is what a verified call hands to the resource filters (§5.5).
type Result struct {
	// Body is the payload as Flux's filters read it: the request body, or
	// what the type unwraps from it (GitHub's form field, the Pub/Sub
	// message of gcr).
	Body []byte
	// Claims are the verified token's claims (generic-oidc); nil otherwise.
	Claims map[string]any
}

// verifier authenticates a call for one receiver type and checks its event
// type against the Receiver's events. token is the secret's token, empty
// for types without a secret.
type verifier func(ctx context.Context, v *Verifier, rcv *api.Receiver, secret map[string][]byte, token []byte, req *Request) (Result, error)

// Verifier verifies webhook calls. Its zero value is ready to use, and it
// is safe for concurrent use; one Verifier per process keeps what is worth
// keeping between calls: the discovery documents and keys of OIDC issuers,
// Google's keys, and compiled CEL. It must not be copied after first use.
type Verifier struct {
	// Client fetches issuers' discovery documents and keys; nil means a
	// client with the shared redirect policy and a 10 s timeout.
	Client *http.Client
	// CDEvents checks a cdevents body: cdevents.Validate (package
	// pkg/receiver/cdevents) in the binaries that serve webhooks. Nil
	// answers cdevents calls 501. It is passed in, not imported, so that
	// binaries that import this package only for its types, such as the
	// dispatch Lambda, do not link the JSON schema library, whose init
	// compiles its meta-schemas (about 12 ms of every cold start).
	CDEvents func(body []byte) error

	// GoogleJWKSURL is where gcr fetches the keys of Google ID tokens; ""
	// means GoogleJWKSURL, Google's. Tests point it at a local key set.
	GoogleJWKSURL string

	defaultClientOnce sync.Once
	defaultClient     *http.Client
	issuers           boundedCache[*issuer]
	googleKeySets     boundedCache[*oidc.RemoteKeySet]
	rules             boundedCache[compiledRules]
}

var verifiers = map[string]verifier{
	"acr":          verifyACR,
	"bitbucket":    verifyBitbucket,
	"cdevents":     verifyCDEvents,
	"dockerhub":    verifyDockerHub,
	"gcr":          verifyGCR,
	"generic":      verifyGeneric,
	"generic-hmac": verifyGenericHMAC,
	"generic-oidc": verifyGenericOIDC,
	"github":       verifyGitHub,
	"gitlab":       verifyGitLab,
	"harbor":       verifyHarbor,
	"nexus":        verifyNexus,
	"quay":         verifyQuay,
}

// Types lists the receiver types Herald verifies, sorted.
func Types() []string {
	types := make([]string, 0, len(verifiers))
	for t := range verifiers {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// ErrUnsupported is returned for a receiver type Herald does not verify yet.
var ErrUnsupported = errors.New("receiver type not supported")

// Token returns the Receiver's token from its secret data, with Flux's error
// when it is missing.
func Token(rcv *api.Receiver, secret map[string][]byte) ([]byte, error) {
	token, ok := secret["token"]
	if !ok {
		return nil, fmt.Errorf("invalid %q secret data: required field 'token'", rcv.Metadata.Namespace+"/"+rcv.Spec.SecretRef.Name)
	}
	return token, nil
}

// Verify authenticates req for rcv, whose secret holds the token, and
// returns what the resource filters need of it.
func (v *Verifier) Verify(ctx context.Context, rcv *api.Receiver, secret map[string][]byte, req *Request) (Result, error) {
	verify, ok := verifiers[rcv.Spec.Type]
	if !ok {
		return Result{}, &Error{Status: http.StatusNotImplemented, Err: fmt.Errorf("%w: %s (supported: %s)", ErrUnsupported, rcv.Spec.Type, strings.Join(Types(), ", "))}
	}
	var token []byte
	if rcv.Spec.Type != "generic-oidc" {
		if rcv.Spec.SecretRef == nil {
			return Result{}, badRequest("receiver %s/%s has no secretRef", rcv.Metadata.Namespace, rcv.Metadata.Name)
		}
		var err error
		if token, err = Token(rcv, secret); err != nil {
			return Result{}, &Error{Status: http.StatusBadRequest, Err: err}
		}
	}
	return verify(ctx, v, rcv, secret, token, req)
}

// allowEvent checks an event type against spec.events, without case (an
// empty list allows every event), and refuses it with Flux's message, in
// which what names the sender's kind of event ("GitHub event", "CDEvent").
func allowEvent(rcv *api.Receiver, what, eventType string) error {
	if len(rcv.Spec.Events) == 0 {
		return nil
	}
	for _, e := range rcv.Spec.Events {
		if strings.EqualFold(e, eventType) {
			return nil
		}
	}
	return badRequest("the %s %q is not authorised", what, eventType)
}
