// Package googlepubsub publishes the Flux event to a Google Cloud Pub/Sub
// topic (Flux's internal/notifier/google_pubsub.go and google_helpers.go).
// The address is the project ID and the channel the topic ID; the message
// data is the event JSON and its attributes are the secret's headers.
//
// Flux goes through the SDK's gRPC client and batching Publisher, which
// retries for up to 60 s. Herald makes the one call of the REST API's
// projects.topics.publish
// (https://cloud.google.com/pubsub/docs/reference/rest/v1/projects.topics/publish)
// through the shared poster, so the queue's back-off governs retries, and
// the gRPC stack (16 MB of the Lambda binary) is not linked in.
package googlepubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/oauth2"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// DefaultEndpoint is the Pub/Sub API's base URL.
const DefaultEndpoint = "https://pubsub.googleapis.com"

// Notifier publishes to one topic.
type Notifier struct {
	// Endpoint is the API's base URL (scheme and host, optionally a path).
	// New sets DefaultEndpoint; tests point it at their server.
	Endpoint string

	path   string
	topic  string
	attrs  map[string]string
	ep     notify.Endpoint
	tokens oauth2.TokenSource
}

// New checks the project, topic and credentials, and builds the token
// source once, so that an access token serves events until it expires.
func New(cfg notify.Config) (*Notifier, error) {
	if cfg.Address == "" {
		return nil, errors.New("GCP project ID cannot be empty")
	}
	if cfg.Channel == "" {
		return nil, errors.New("GCP Pub/Sub topic ID cannot be empty")
	}
	if cfg.Token == "" {
		// Flux falls back to GKE workload identity, which Herald, running
		// on AWS, does not have.
		return nil, errors.New("googlepubsub: the secret's token must hold service-account JSON credentials; workload identity is not available outside GKE")
	}
	sa, err := parseServiceAccount(cfg.Token)
	if err != nil {
		return nil, err
	}
	var attrs map[string]string
	if len(cfg.Headers) > 0 {
		attrs = make(map[string]string, len(cfg.Headers))
		for k, v := range cfg.Headers {
			attrs[k] = v.Reveal()
		}
	}
	// Tokens are fetched through the same transport (and proxy) but with a
	// Timeout, since the fetch runs on no attempt's context (see token).
	client := cfg.Client()
	tokenClient := *client
	tokenClient.Timeout = cfg.Timeout
	if tokenClient.Timeout <= 0 {
		tokenClient.Timeout = notify.DefaultTimeout
	}
	return &Notifier{
		Endpoint: DefaultEndpoint,
		path:     "/v1/projects/" + url.PathEscape(cfg.Address.Reveal()) + "/topics/" + url.PathEscape(cfg.Channel) + ":publish",
		topic:    cfg.Channel,
		attrs:    attrs,
		ep: notify.Endpoint{
			Client:  client,
			Secrets: append(cfg.SecretValues(), notify.Secret(sa.PrivateKey), notify.Secret(sa.PrivateKeyID)),
		},
		tokens: tokenSource(sa, &tokenClient),
	}, nil
}

// PublishRequest is the body of projects.topics.publish.
type PublishRequest struct {
	Messages []Message `json:"messages"`
}

// Message is a PubsubMessage. encoding/json writes Data in standard
// base64, as the API's bytes fields require, and leaves out empty
// attributes, as Flux sends none when the secret has no headers.
type Message struct {
	Data       []byte            `json:"data"`
	Attributes map[string]string `json:"attributes,omitempty"`
}

// Notify publishes the event JSON, the generic provider's body, as one
// message: one token fetch when no cached token is valid, then one POST.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("error json-marshaling event: %w", err))
	}
	tok, err := n.token(ctx)
	if err != nil {
		return notify.Outcome(err)
	}
	body := PublishRequest{Messages: []Message{{Data: data, Attributes: n.attrs}}}
	err = n.ep.At(strings.TrimSuffix(n.Endpoint, "/")+n.path).PostJSON(ctx, body, notify.WithBearer(notify.Secret(tok.AccessToken)))
	if err != nil {
		// The project is the address, which stays out of errors; the
		// wrapped error is already classified and masked.
		err = fmt.Errorf("error publishing to GCP Pub/Sub topic %s: %w", n.topic, err)
	}
	return notify.Outcome(err)
}
