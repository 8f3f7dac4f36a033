// Package googlepubsub publishes the Flux event to a Google Cloud Pub/Sub
// topic (Flux's internal/notifier/google_pubsub.go and google_helpers.go).
// The address is the project ID and the channel the topic ID; the message
// data is the event JSON and its attributes are the secret's headers.
//
// Flux goes through the SDK's batching Publisher, which retries for up to
// 60 s on a context of its own. Herald makes the one Publish RPC of the
// SDK's generated client itself, with the SDK's retries off and the
// attempt's context, so the queue's back-off governs retries.
package googlepubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"

	pubsub "cloud.google.com/go/pubsub/v2/apiv1"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier publishes to one topic with a client built on the first Notify.
type Notifier struct {
	// ClientOptions are added after Herald's own when the client is built;
	// tests point the client at a local fake server with them.
	ClientOptions []option.ClientOption

	topic   string
	attrs   map[string]string
	auth    []option.ClientOption
	secrets []notify.Secret

	mu     sync.Mutex
	client *pubsub.TopicAdminClient
}

var _ notify.Notifier = (*Notifier)(nil)

// New checks the project, topic and credentials. The gRPC client is built
// on the first Notify: without a token, finding the default credentials
// may probe the GCE metadata server, which has no place in loading config.
func New(cfg notify.Config) (notify.Notifier, error) {
	if cfg.Address == "" {
		return nil, errors.New("GCP project ID cannot be empty")
	}
	if cfg.Channel == "" {
		return nil, errors.New("GCP Pub/Sub topic ID cannot be empty")
	}
	auth, err := authOptions(cfg)
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
	return &Notifier{
		topic:   "projects/" + cfg.Address.Reveal() + "/topics/" + cfg.Channel,
		attrs:   attrs,
		auth:    auth,
		secrets: cfg.SecretValues(),
	}, nil
}

// Notify publishes the event JSON, the generic provider's body, in one RPC.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("error json-marshaling event: %w", err))
	}
	client, err := n.getClient(ctx)
	if err != nil {
		return notify.Outcome(n.classify(err))
	}
	_, err = client.Publish(ctx, &pubsubpb.PublishRequest{
		Topic:    n.topic,
		Messages: []*pubsubpb.PubsubMessage{{Data: data, Attributes: maps.Clone(n.attrs)}},
	}, gax.WithRetry(func() gax.Retryer { return nil }))
	if err != nil {
		return notify.Outcome(n.classify(fmt.Errorf("error publishing to GCP Pub/Sub topic %s: %w", n.topic, err)))
	}
	return false, nil
}

func (n *Notifier) getClient(ctx context.Context) (*pubsub.TopicAdminClient, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.client != nil {
		return n.client, nil
	}
	opts := append(append([]option.ClientOption{}, n.auth...), n.ClientOptions...)
	client, err := pubsub.NewTopicAdminClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("error creating the GCP Pub/Sub client: %w", err)
	}
	n.client = client
	return client, nil
}
