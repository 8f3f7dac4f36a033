package receiver

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"

	"github.com/heraldhq/herald/pkg/api"
)

// Container registries and artifact stores. Harbor and Nexus authenticate
// with the token; Docker Hub, Quay and ACR send nothing to check, so the
// secret webhook path is their only credential and the body only has to
// decode as the sender's payload, as in Flux.

// verifyHarbor compares the Authorization header, which Harbor fills with
// the webhook's "auth header" verbatim, with the token.
func verifyHarbor(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, token []byte, req *Request) (Result, error) {
	if subtle.ConstantTimeCompare([]byte(req.Header.Get("Authorization")), token) != 1 {
		return Result{}, badRequest("the Harbor Authorization header value does not match the receiver token")
	}
	return Result{Body: req.Body}, nil
}

// Each verifier below decodes into local types named as Flux's, with the
// fields and types Flux decodes, so that a type mismatch is refused as in
// Flux and with the same message ("Go struct field payload.<field>"). No
// field is required to be present.

// verifyDockerHub accepts a body that decodes as a Docker Hub push.
func verifyDockerHub(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	type payload struct {
		PushData struct {
			Tag string `json:"tag"`
		} `json:"push_data"`
		Repository struct {
			RepoURL string `json:"repo_url"`
		} `json:"repository"`
	}
	var p payload
	if err := decodeFirst(req.Body, &p); err != nil {
		// Flux gives no detail for Docker Hub.
		return Result{}, badRequest("cannot decode DockerHub webhook payload")
	}
	return Result{Body: req.Body}, nil
}

// verifyQuay accepts a body that decodes as a Quay repository push.
func verifyQuay(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	type payload struct {
		DockerURL   string   `json:"docker_url"`
		UpdatedTags []string `json:"updated_tags"`
	}
	var p payload
	if err := decodeFirst(req.Body, &p); err != nil {
		return Result{}, badRequest("cannot decode Quay webhook payload: %v", err)
	}
	return Result{Body: req.Body}, nil
}

// verifyACR accepts a body that decodes as an Azure Container Registry
// event.
func verifyACR(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	type target struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	}
	type payload struct {
		Action string `json:"action"`
		Target target `json:"target"`
	}
	var p payload
	if err := decodeFirst(req.Body, &p); err != nil {
		return Result{}, badRequest("cannot decode ACR webhook payload: %v", err)
	}
	return Result{Body: req.Body}, nil
}

// verifyNexus checks X-Nexus-Webhook-Signature, the lowercase hex
// HMAC-SHA1 of the body keyed with the token (Nexus' "secret key"), then
// that the body decodes as a Nexus event.
func verifyNexus(_ context.Context, _ *Verifier, _ *api.Receiver, _ map[string][]byte, token []byte, req *Request) (Result, error) {
	sig := req.Header.Get("X-Nexus-Webhook-Signature")
	if sig == "" {
		return Result{}, badRequest("the Nexus signature is missing from header")
	}
	mac := hmac.New(sha1.New, token)
	mac.Write(req.Body)
	// Compared as text, as Flux does: an uppercase hex signature is refused.
	if !hmac.Equal([]byte(sig), []byte(hex.EncodeToString(mac.Sum(nil)))) {
		return Result{}, badRequest("invalid Nexus signature")
	}
	type payload struct {
		Action         string `json:"action"`
		RepositoryName string `json:"repositoryName"`
	}
	var p payload
	if err := json.Unmarshal(req.Body, &p); err != nil {
		return Result{}, badRequest("cannot decode Nexus webhook payload: %v", err)
	}
	return Result{Body: req.Body}, nil
}

// decodeFirst decodes the first JSON value of body into v and ignores what
// follows it, as Flux's json.Decoder does for Docker Hub, Quay and ACR.
func decodeFirst(body []byte, v any) error {
	return json.NewDecoder(bytes.NewReader(body)).Decode(v)
}
