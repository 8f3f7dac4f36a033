// Package pagerduty sends Flux events to the PagerDuty Events API v2 (Flux's
// internal/notifier/pagerduty.go): errors trigger an incident, other events
// resolve it, and info events are also recorded as change events
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/,
// https://developer.pagerduty.com/docs/events-api-v2/send-change-events/).
package pagerduty

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// DefaultBaseURL is PagerDuty's US events endpoint; the EU one is
// https://events.eu.pagerduty.com.
const DefaultBaseURL = "https://events.pagerduty.com"

// Notifier sends events with one routing key.
type Notifier struct {
	// BaseURL is scheme://host of the configured address: Flux ignores the
	// address path and appends the API paths. Tests may point it elsewhere.
	BaseURL string

	routingKey string
	ep         notify.Endpoint
}

// New builds a PagerDuty notifier: cfg.Address is an events API URL such as
// https://events.pagerduty.com/v2/enqueue, of which only the scheme and host
// count, and cfg.Channel is the integration's routing key.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		u, _ := url.ParseRequestURI(ep.Address) // cannot fail: NewEndpoint accepted it
		// The routing key is in every body, which a failing server may echo,
		// and it is enough to raise incidents: mask it as a secret.
		ep.Secrets = append(ep.Secrets, notify.Secret(cfg.Channel))
		return &Notifier{BaseURL: u.Scheme + "://" + u.Host, routingKey: cfg.Channel, ep: ep}
	})
}

// Notify sends ev to /v2/enqueue and, for info events, a change event to
// /v2/change/enqueue. Progressing events are skipped, as in Flux. When the
// change event fails, a retry sends the resolve again, which PagerDuty
// de-duplicates by its dedup_key.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	if ev.Reason == "Progressing" {
		return false, nil
	}
	if err := n.ep.At(n.BaseURL+"/v2/enqueue").PostJSON(ctx, NewEvent(ev, n.routingKey)); err != nil {
		return notify.Outcome(fmt.Errorf("failed sending event: %w", err))
	}
	if ev.Severity == event.SeverityInfo {
		if err := n.ep.At(n.BaseURL+"/v2/change/enqueue").PostJSON(ctx, NewChangeEvent(ev, n.routingKey)); err != nil {
			return notify.Outcome(fmt.Errorf("failed sending change event: %w", err))
		}
	}
	return false, nil
}

// Event is go-pagerduty's V2Event, which Flux sends, without the fields Flux
// never sets (images, links, client, client_url: all omitempty).
type Event struct {
	RoutingKey string   `json:"routing_key"`
	Action     string   `json:"event_action"`
	DedupKey   string   `json:"dedup_key,omitempty"`
	Payload    *Payload `json:"payload,omitempty"`
}

// Payload is go-pagerduty's V2Payload, without class (omitempty, unset).
type Payload struct {
	Summary   string `json:"summary"`
	Source    string `json:"source"`
	Severity  string `json:"severity"`
	Timestamp string `json:"timestamp,omitempty"`
	Component string `json:"component,omitempty"`
	Group     string `json:"group,omitempty"`
	Details   any    `json:"custom_details,omitempty"`
}

// ChangeEvent is go-pagerduty v1.8.0's ChangeEvent, without links
// (omitempty, unset).
type ChangeEvent struct {
	RoutingKey string             `json:"routing_key"`
	Payload    ChangeEventPayload `json:"payload"`
}

// ChangeEventPayload is go-pagerduty v1.8.0's ChangeEventPayload.
type ChangeEventPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source,omitempty"`
	Timestamp     string         `json:"timestamp,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// NewEvent builds Flux's alert event: trigger for errors, otherwise resolve,
// in case an incident for the object is open. The dedup key is the involved
// object's UID.
func NewEvent(ev event.Event, routingKey string) Event {
	e := Event{RoutingKey: routingKey, Action: "resolve", DedupKey: ev.InvolvedObject.UID}
	if ev.Severity == event.SeverityError {
		e.Action = "trigger"
		e.Payload = &Payload{
			Summary:   summary(ev),
			Source:    "Flux " + ev.ReportingController,
			Severity:  "error",
			Timestamp: timestamp(ev),
			Component: ev.InvolvedObject.Name,
			Group:     ev.InvolvedObject.Kind,
			Details:   details(ev),
		}
	}
	return e
}

// NewChangeEvent builds Flux's change event.
func NewChangeEvent(ev event.Event, routingKey string) ChangeEvent {
	return ChangeEvent{
		RoutingKey: routingKey,
		Payload: ChangeEventPayload{
			Summary:       summary(ev),
			Source:        "Flux " + ev.ReportingController,
			Timestamp:     timestamp(ev),
			CustomDetails: details(ev),
		},
	}
}

// details is a map, as in Flux, so its keys are sorted; metadata is null
// when the event has none.
func details(ev event.Event) map[string]any {
	return map[string]any{"message": ev.Message, "metadata": ev.Metadata}
}

// timestamp is RFC 3339 in UTC. Flux formats in the controller's local zone,
// which is UTC in its image.
func timestamp(ev event.Event) string {
	return ev.Timestamp.UTC().Format(time.RFC3339)
}

// summary is Flux's "<reason in words>: <kind>/<name>", all lower case, e.g.
// "health check failed: kustomization/podinfo".
func summary(ev event.Event) string {
	name := strings.ToLower(ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name)
	return strings.ToLower(strings.Join(splitCamelCase(ev.Reason), " ")) + ": " + name
}
