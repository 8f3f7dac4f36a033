// Package receiver verifies webhook calls for Flux Receivers and turns them
// into reconcile requests, as Flux's receiver server does (behaviour
// reference §5). Each receiver type is one verifier in a map.
package receiver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

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

// verifier authenticates a call for one receiver type and checks its event
// type against the Receiver's events.
type verifier func(rcv *api.Receiver, token []byte, req *Request) error

var verifiers = map[string]verifier{
	"generic":      verifyGeneric,
	"generic-hmac": verifyGenericHMAC,
	"github":       verifyGitHub,
	"gitlab":       verifyGitLab,
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

// Verify authenticates req for rcv, whose secret holds the token.
func Verify(rcv *api.Receiver, secret map[string][]byte, req *Request) error {
	verify, ok := verifiers[rcv.Spec.Type]
	if !ok {
		return &Error{Status: http.StatusNotImplemented, Err: fmt.Errorf("%w: %s (supported: %s)", ErrUnsupported, rcv.Spec.Type, strings.Join(Types(), ", "))}
	}
	if rcv.Spec.SecretRef == nil {
		return badRequest("receiver %s/%s has no secretRef", rcv.Metadata.Namespace, rcv.Metadata.Name)
	}
	token, err := Token(rcv, secret)
	if err != nil {
		return &Error{Status: http.StatusBadRequest, Err: err}
	}
	return verify(rcv, token, req)
}

// allowEvent checks an event type against spec.events, without case; an
// empty list allows every event.
func allowEvent(rcv *api.Receiver, provider, eventType string) error {
	if len(rcv.Spec.Events) == 0 {
		return nil
	}
	for _, e := range rcv.Spec.Events {
		if strings.EqualFold(e, eventType) {
			return nil
		}
	}
	return badRequest("%s event '%s' is not allowed for this receiver", provider, eventType)
}
