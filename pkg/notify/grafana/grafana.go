// Package grafana posts Flux events to Grafana as annotations in the
// Graphite format (Flux's internal/notifier/grafana.go;
// https://grafana.com/docs/grafana/latest/developers/http_api/annotations/#create-annotation-in-graphite-format).
package grafana

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier posts Graphite-format annotations.
type Notifier struct {
	ep   notify.Endpoint
	auth notify.PostOption
}

// New builds a Grafana notifier: cfg.Address is the annotations endpoint,
// e.g. https://grafana.example.com/api/annotations/graphite. cfg.Token is
// sent as a bearer token; without one, cfg.Username and cfg.Password, when
// both are set, as basic auth.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		// A token wins over basic auth, as in Flux; WithBearer of no token
		// sends nothing.
		auth := notify.WithBearer(cfg.Token)
		if cfg.Token == "" && cfg.Username != "" && cfg.Password != "" {
			auth = notify.WithBasicAuth(cfg.Username, cfg.Password)
		}
		return &Notifier{ep: ep, auth: auth}
	})
}

// Payload is a Graphite-format annotation, fields in Flux's order.
type Payload struct {
	// When is in Unix seconds, as in Grafana's Graphite example.
	When int64    `json:"when"`
	Text string   `json:"text"`
	Tags []string `json:"tags,omitempty"`
}

// NewPayload builds Flux's annotation. Tags are "flux", the reporting
// controller, one "k: v" per metadata entry with ":" inside k and v replaced
// by "|", then the object's kind, name and namespace.
func NewPayload(ev event.Event) Payload {
	tags := make([]string, 0, len(ev.Metadata)+5)
	tags = append(tags, "flux", ev.ReportingController)
	// Flux ranges over the metadata map, in no set order; sorted here so
	// that Herald's requests are reproducible.
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		tags = append(tags, strings.ReplaceAll(k, ":", "|")+": "+strings.ReplaceAll(ev.Metadata[k], ":", "|"))
	}
	o := ev.InvolvedObject
	tags = append(tags, "kind: "+o.Kind, "name: "+o.Name, "namespace: "+o.Namespace)
	return Payload{When: ev.Timestamp.Unix(), Text: ev.ObjectName(), Tags: tags}
}

// Notify posts ev.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return notify.Outcome(n.ep.PostJSON(ctx, NewPayload(ev), n.auth))
}
