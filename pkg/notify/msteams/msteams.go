// Package msteams posts Flux events to Microsoft Teams, as an Adaptive Card
// through a Workflows webhook or as a MessageCard through a legacy Office 365
// connector (Flux's internal/notifier/teams.go; Microsoft's
// https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using).
package msteams

import (
	"context"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Schema is the payload format an address receives.
type Schema int

const (
	// SchemaAdaptiveCard is for Power Automate Workflows webhooks and any
	// other address.
	SchemaAdaptiveCard Schema = iota
	// SchemaConnector is the deprecated Office 365 connector MessageCard.
	SchemaConnector
)

// connectorHostSuffix marks a legacy Office 365 connector address.
const connectorHostSuffix = ".webhook.office.com"

// Notifier posts Teams messages.
type Notifier struct {
	// Schema is the payload format. New derives it from the address as Flux
	// does; tests set it to send either format to their server.
	Schema Schema

	ep notify.Endpoint
}

// New builds a Teams notifier for the webhook address cfg.Address.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		return &Notifier{
			Schema: schemaFor(ep.Address),
			ep:     ep,
		}
	})
}

// schemaFor is Flux's test: the host up to its first ":" (so without the
// port) ends with ".webhook.office.com", compared case-sensitively. Only
// the host counts, so a look-alike in the userinfo, path or query, or a
// host such as "x.webhook.office.com.example.org", gets an Adaptive Card.
func schemaFor(address string) Schema {
	// NewEndpoint has accepted address with the same parser, so err is nil.
	u, _ := url.ParseRequestURI(address)
	host, _, _ := strings.Cut(u.Host, ":")
	if strings.HasSuffix(host, connectorHostSuffix) {
		return SchemaConnector
	}
	return SchemaAdaptiveCard
}

// Notify posts ev in the notifier's schema.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	var payload any
	if n.Schema == SchemaConnector {
		payload = NewConnectorPayload(ev)
	} else {
		payload = NewAdaptiveCardPayload(ev)
	}
	return notify.Outcome(n.ep.PostJSON(ctx, payload))
}
