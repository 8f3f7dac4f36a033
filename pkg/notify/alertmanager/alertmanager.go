// Package alertmanager posts Flux events to Prometheus Alertmanager as alerts
// through its v2 API (Flux's internal/notifier/alertmanager.go;
// https://prometheus.io/docs/alerting/latest/clients/ and POST /api/v2/alerts
// in Alertmanager's api/v2/openapi.yaml).
package alertmanager

import (
	"context"
	"encoding/json"
	"maps"
	"time"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier posts one alert per event.
type Notifier struct {
	ep   notify.Endpoint
	auth notify.PostOption
}

// New builds an Alertmanager notifier: cfg.Address is the alerts endpoint,
// e.g. http://alertmanager:9093/api/v2/alerts. cfg.Token is sent as a bearer
// token, unless cfg.Username and cfg.Password are both set: then basic auth
// is sent instead, as in Flux, whose second request modifier replaces the
// first.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		auth := notify.WithBearer(cfg.Token)
		if cfg.Username != "" && cfg.Password != "" {
			auth = notify.WithBasicAuth(cfg.Username, cfg.Password)
		}
		return &Notifier{ep: ep, auth: auth}
	})
}

// Alert is one postable alert, fields in Flux's order. Labels and
// annotations are maps, so their keys are sorted.
type Alert struct {
	Status      string            `json:"status"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    Time              `json:"startsAt"`
	// EndsAt is always the zero time, which Alertmanager reads as unset: the
	// alert then resolves after its resolve_timeout. (omitempty has no
	// effect on a struct, in Flux as here.)
	EndsAt Time `json:"endsAt,omitempty"`
}

// Time marshals as RFC 3339 in UTC, e.g. "0001-01-01T00:00:00Z" when zero.
// Flux formats in the controller's local zone, which is UTC in its image.
type Time time.Time

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(time.RFC3339))
}

// NewAlert builds Flux's alert for ev. It is always "firing", even for info
// events. The metadata become labels, except "summary", which becomes an
// annotation beside the message; fixed labels are set over the metadata.
func NewAlert(ev event.Event) Alert {
	// Copies: Flux edits the event's own metadata map, which Herald may
	// still need for other deliveries.
	labels := make(map[string]string, len(ev.Metadata)+7)
	maps.Copy(labels, ev.Metadata)
	annotations := map[string]string{"message": ev.Message}
	if summary, ok := labels["summary"]; ok {
		annotations["summary"] = summary
		delete(labels, "summary")
	}
	o := ev.InvolvedObject
	labels["alertname"] = AlertName(ev)
	labels["severity"] = ev.Severity
	labels["reason"] = ev.Reason
	labels["kind"] = o.Kind
	labels["name"] = o.Name
	labels["namespace"] = o.Namespace
	labels["reportingcontroller"] = ev.ReportingController
	return Alert{
		Status:      "firing",
		Labels:      labels,
		Annotations: annotations,
		StartsAt:    Time(ev.Timestamp.Time),
	}
}

// AlertName is "Flux" + Kind + the reason in title case. Flux uses x/text's
// title caser, which also lower-cases the rest of each word, so
// "HealthCheckFailed" gives "FluxKustomizationHealthcheckfailed" and
// "update sucesful" gives "FluxKustomizationUpdate Sucesful".
func AlertName(ev event.Event) string {
	// A Caser keeps state, so one per call, as in Flux.
	return "Flux" + ev.InvolvedObject.Kind + cases.Title(language.Und).String(ev.Reason)
}

// Notify posts ev as a one-element array of alerts.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return notify.Outcome(n.ep.PostJSON(ctx, []Alert{NewAlert(ev)}, n.auth))
}
