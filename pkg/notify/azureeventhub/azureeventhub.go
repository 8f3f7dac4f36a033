// Package azureeventhub sends the Flux event to an Azure Event Hub over
// AMQP (Flux's internal/notifier/azure_eventhub.go). Flux uses the
// deprecated github.com/Azure/azure-event-hubs-go/v3; Herald uses its
// maintained successor, github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2.
//
// The address is either an Event Hubs connection string with a shared
// access key, or the hub name, with the namespace in the channel and the
// secret's token as a static JWT (deprecated in Flux). Flux's other source
// of a token, Kubernetes workload identity, has no counterpart in Herald.
//
// No test exercises the AMQP exchange: there is no Event Hubs emulator
// here. The tests cover the config, the namespace rules, building the
// client without network, error classification and a refused dial.
package azureeventhub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier sends each event as a batch of one on a producer client built
// once; the SDK connects on the first send and keeps the connection.
type Notifier struct {
	producer *azeventhubs.ProducerClient
	secrets  []notify.Secret
}

var (
	_ notify.Notifier = (*Notifier)(nil)
	_ io.Closer       = (*Notifier)(nil)
)

// closeTimeout bounds closing the producer's AMQP links and connection.
const closeTimeout = 10 * time.Second

// Close closes the producer client and its connection, for the owner of
// the notifier once its Provider changed or left the config.
func (n *Notifier) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	return n.producer.Close(ctx)
}

// options make one attempt per Notify: the queue's back-off retries, not
// the SDK (whose default is 3 retries from 4 s to 120 s).
var options = &azeventhubs.ProducerClientOptions{
	RetryOptions: azeventhubs.RetryOptions{MaxRetries: -1},
}

// New checks the config and builds the producer client, which does not
// dial.
func New(cfg notify.Config) (*Notifier, error) {
	producer, err := newProducer(cfg, os.Getenv("AZURE_AUTHORITY_HOST"))
	if err != nil {
		return nil, err
	}
	secrets := cfg.SecretValues()
	if IsConnectionString(cfg.Address.Reveal()) {
		// Mask the key on its own too, should the SDK ever quote it.
		for part := range strings.SplitSeq(cfg.Address.Reveal(), ";") {
			if k, v, ok := strings.Cut(part, "="); ok && (strings.TrimSpace(k) == "SharedAccessKey" || strings.TrimSpace(k) == "SharedAccessSignature") {
				secrets = append(secrets, notify.Secret(v))
			}
		}
	}
	return &Notifier{producer: producer, secrets: secrets}, nil
}

func newProducer(cfg notify.Config, authorityHost string) (*azeventhubs.ProducerClient, error) {
	address := cfg.Address.Reveal()
	if IsConnectionString(address) {
		if cfg.Token != "" {
			return nil, errors.New("invalid authentication options: jwt token and SAS authentication cannot be set at the same time")
		}
		// The hub is the connection string's EntityPath, as in Flux.
		p, err := azeventhubs.NewProducerClientFromConnectionString(address, "", options)
		if err != nil {
			// The SDK's parse errors describe the format, never the values.
			return nil, fmt.Errorf("failed to create a eventhub using SAS: %w", err)
		}
		return p, nil
	}
	if address == "" {
		return nil, errors.New("invalid address: the Event Hub name or a connection string is required")
	}
	if cfg.Channel == "" {
		return nil, errors.New("invalid channel: the Event Hubs namespace is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("failed to create a eventhub using authentication token: the secret has no token; workload identity is not supported")
	}
	p, err := azeventhubs.NewProducerClient(Namespace(cfg.Channel, authorityHost), address, newJWTCredential(cfg.Token), options)
	if err != nil {
		return nil, fmt.Errorf("failed to create a eventhub using authentication token: %w", err)
	}
	return p, nil
}

// IsConnectionString is Flux's test for SAS authentication.
func IsConnectionString(address string) bool {
	return strings.Contains(address, "SharedAccessKey")
}

// Namespace is the fully qualified namespace: the channel, with the Event
// Hubs suffix of the cloud that AZURE_AUTHORITY_HOST names appended unless
// the channel already holds a ".servicebus." domain.
func Namespace(channel, authorityHost string) string {
	if strings.Contains(channel, ".servicebus.") {
		return channel
	}
	switch {
	case strings.Contains(authorityHost, "chinacloudapi.cn"):
		return channel + ".servicebus.chinacloudapi.cn"
	case strings.Contains(authorityHost, "microsoftonline.us"):
		return channel + ".servicebus.usgovcloudapi.net"
	default:
		return channel + ".servicebus.windows.net"
	}
}

// Notify sends one batch holding one event whose body is the event JSON,
// the generic provider's body. Unlike Flux, the client is not closed after
// each event but reused.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("unable to marshall event: %w", err))
	}
	batch, err := n.producer.NewEventDataBatch(ctx, nil)
	if err != nil {
		return notify.Outcome(n.classify(fmt.Errorf("failed to create a batch: %w", err)))
	}
	if err := batch.AddEventData(&azeventhubs.EventData{Body: body}, nil); err != nil {
		// ErrEventDataTooLarge: no later attempt can make the event fit.
		return false, n.classify(fmt.Errorf("failed to add the event to the batch: %w", err))
	}
	if err := n.producer.SendEventDataBatch(ctx, batch, nil); err != nil {
		return notify.Outcome(n.classify(fmt.Errorf("failed to send msg: %w", err)))
	}
	return false, nil
}
