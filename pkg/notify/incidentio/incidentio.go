// Package incidentio fires and resolves incident.io alerts through an HTTP
// alert source (Flux's internal/notifier/incidentio.go;
// https://api-docs.incident.io/tag/Alert-Events-V2).
package incidentio

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// ProgressingReason is skipped: an alert should fire on a terminal failure
// and resolve on recovery, not flap while a reconciliation runs.
const ProgressingReason = "Progressing"

// Alert statuses.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notifier posts alert events.
type Notifier struct {
	ep    notify.Endpoint
	token notify.Secret
}

// New builds an incident.io notifier. cfg.Address is the alert source URL
// (…/v2/alert_events/http/<id>) and cfg.Token its API token, which is
// required.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid incident.io alert source URL: %w", err)
	}
	if cfg.Token == "" {
		return nil, errors.New("empty incident.io API token")
	}
	return &Notifier{ep: ep, token: cfg.Token}, nil
}

// Payload is incident.io's alert event, fields in Flux's order. Flux never
// sets source_url; the field is kept so the shape is Flux's.
type Payload struct {
	Title            string            `json:"title"`
	Status           string            `json:"status"`
	DeduplicationKey string            `json:"deduplication_key"`
	Description      string            `json:"description,omitempty"`
	SourceURL        string            `json:"source_url,omitempty"`
	Metadata         map[string]string `json:"metadata,omitempty"`
}

// NewPayload builds Flux's alert event for ev. Errors fire, anything else
// resolves; the involved object's UID is the de-duplication key, so a
// recovery resolves the alert its failure fired, and objects of the same
// name on two clusters never share an alert. The event's metadata goes
// along with severity, reason and, when set, reportingController written
// over it.
func NewPayload(ev event.Event) Payload {
	status := StatusResolved
	if ev.Severity == event.SeverityError {
		status = StatusFiring
	}
	metadata := make(map[string]string, len(ev.Metadata)+3)
	maps.Copy(metadata, ev.Metadata)
	metadata["severity"] = ev.Severity
	metadata["reason"] = ev.Reason
	if ev.ReportingController != "" {
		metadata["reportingController"] = ev.ReportingController
	}
	return Payload{
		Title:            ev.ObjectName() + ": " + ev.Reason,
		Status:           status,
		DeduplicationKey: ev.InvolvedObject.UID,
		Description:      ev.Message,
		Metadata:         metadata,
	}
}

// Notify posts ev with the token as a bearer, or skips it without a request
// when its reason is Progressing.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	if ev.Reason == ProgressingReason {
		return false, nil
	}
	return notify.Outcome(n.ep.PostJSON(ctx, NewPayload(ev),
		notify.WithBearer(n.token)))
}
