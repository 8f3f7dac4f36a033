package receiver

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/hex"
	"hash"
	"net/http"
	"strings"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/api"
)

// verifyGeneric accepts every call: the secret digest in the URL is the
// only credential, as in Flux.
func verifyGeneric(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	return Result{Body: req.Body}, nil
}

// verifyGenericHMAC checks X-Signature: <alg>=<hex HMAC of the body>, with
// alg sha1, sha256 or sha512.
func verifyGenericHMAC(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, token []byte, req *Request) (Result, error) {
	alg, sig, ok := strings.Cut(req.Header.Get("X-Signature"), "=")
	if !ok {
		return Result{}, badRequest("unable to validate HMAC signature: missing or malformed X-Signature header")
	}
	var newHash func() hash.Hash
	switch alg {
	case "sha1":
		newHash = sha1.New
	case "sha256":
		newHash = sha256.New
	case "sha512":
		newHash = sha512.New
	default:
		return Result{}, badRequest("unable to validate HMAC signature: unsupported algorithm %q", alg)
	}
	want, err := hex.DecodeString(sig)
	if err != nil {
		return Result{}, badRequest("unable to validate HMAC signature: signature is not hex")
	}
	mac := hmac.New(newHash, token)
	mac.Write(req.Body)
	if !hmac.Equal(mac.Sum(nil), want) {
		return Result{}, badRequest("unable to validate HMAC signature: signature mismatch")
	}
	return Result{Body: req.Body}, nil
}

// verifyGitHub validates X-Hub-Signature-256 (or X-Hub-Signature) with
// go-github, which also accepts form-encoded payloads, then checks that the
// payload parses as the event X-GitHub-Event names and that the Receiver
// allows that event.
func verifyGitHub(_ context.Context, _ *Verifier, rcv *api.Receiver, _ map[string][]byte, token []byte, req *Request) (Result, error) {
	httpReq := &http.Request{Header: req.Header, Body: nopBody(req.Body)}
	payload, err := github.ValidatePayload(httpReq, token)
	if err != nil {
		return Result{}, badRequest("the GitHub signature header is invalid, err: %v", err)
	}
	eventType := github.WebHookType(httpReq)
	if _, err := github.ParseWebHook(eventType, payload); err != nil {
		return Result{}, badRequest("cannot decode GitHub body: %v", err)
	}
	if err := allowEvent(rcv, "GitHub event", eventType); err != nil {
		return Result{}, err
	}
	// A form-encoded call's filters see its payload field, as in Flux.
	return Result{Body: payload}, nil
}

// verifyGitLab compares X-Gitlab-Token with the token and checks
// X-Gitlab-Event against the Receiver's events.
func verifyGitLab(_ context.Context, _ *Verifier, rcv *api.Receiver, _ map[string][]byte, token []byte, req *Request) (Result, error) {
	if subtle.ConstantTimeCompare([]byte(req.Header.Get("X-Gitlab-Token")), token) != 1 {
		return Result{}, badRequest("the X-Gitlab-Token header value does not match the receiver token")
	}
	if err := allowEvent(rcv, "GitLab event", req.Header.Get("X-Gitlab-Event")); err != nil {
		return Result{}, err
	}
	return Result{Body: req.Body}, nil
}
