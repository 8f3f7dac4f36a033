package receiver

import (
	"context"
	"net/http"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/api"
)

// verifyBitbucket checks a Bitbucket call the way GitHub's is checked:
// Bitbucket Cloud and Server sign the body into X-Hub-Signature (or
// X-Hub-Signature-256) in GitHub's <alg>=<hex> form, which go-github
// validates. The event type is X-Event-Key (repo:push, repo:refs_changed,
// ...). Unlike GitHub's, the body is not parsed: go-github knows no
// Bitbucket events, and Flux does not parse it either.
func verifyBitbucket(_ context.Context, _ *Verifier, rcv *api.Receiver, _ map[string][]byte, token []byte, req *Request) (Result, error) {
	httpReq := &http.Request{Header: req.Header, Body: nopBody(req.Body)}
	payload, err := github.ValidatePayload(httpReq, token)
	if err != nil {
		return Result{}, badRequest("the Bitbucket server signature header is invalid, err: %v", err)
	}
	if err := allowEvent(rcv, "Bitbucket server event", req.Header.Get("X-Event-Key")); err != nil {
		return Result{}, err
	}
	// As for GitHub, a form-encoded call's filters see its payload field.
	return Result{Body: payload}, nil
}
