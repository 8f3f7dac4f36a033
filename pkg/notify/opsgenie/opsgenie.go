// Package opsgenie creates Opsgenie alerts from Flux events through the
// Alert API (Flux's internal/notifier/opsgenie.go;
// https://docs.opsgenie.com/docs/alert-api#create-alert).
package opsgenie

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier creates alerts with a GenieKey.
type Notifier struct {
	ep          notify.Endpoint
	providerUID string
	auth        map[string]notify.Secret
}

// New builds an Opsgenie notifier: cfg.Address is the Alert API URL, e.g.
// https://api.opsgenie.com/v2/alerts, and cfg.Token the API key. cfg.UID,
// the Provider's UID, goes into every alias.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, errors.New("empty Opsgenie apikey/token")
	}
	return &Notifier{
		ep:          ep,
		providerUID: cfg.UID,
		// Opsgenie's API key scheme: "Authorization: GenieKey <key>".
		auth: map[string]notify.Secret{"Authorization": "GenieKey " + cfg.Token},
	}, nil
}

// Alert is the create-alert body, fields in Flux's order.
type Alert struct {
	Message     string            `json:"message"`
	Alias       string            `json:"alias,omitempty"`
	Description string            `json:"description"`
	Details     map[string]string `json:"details"`
}

// NewAlert builds Flux's alert for ev: the metadata plus the severity as
// details, and an alias that groups the alerts of one object and reason.
func NewAlert(ev event.Event, providerUID string) Alert {
	// A copy: Flux writes "severity" into the event's own metadata map, which
	// Herald may still need for other deliveries.
	details := make(map[string]string, len(ev.Metadata)+1)
	maps.Copy(details, ev.Metadata)
	details["severity"] = ev.Severity
	return Alert{
		Message:     ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name,
		Alias:       Alias(ev, providerUID),
		Description: ev.Message,
		Details:     details,
	}
}

// Alias is Flux's de-duplication key: the lowercase hex SHA-256 of
// <providerUID>/<Kind>/<namespace>/<name>/<reason>. Opsgenie accepts at most
// 512 characters; Flux cuts the hex to 64, which it already is.
func Alias(ev event.Event, providerUID string) string {
	o := ev.InvolvedObject
	sum := sha256.Sum256([]byte(providerUID + "/" + o.Kind + "/" + o.Namespace + "/" + o.Name + "/" + ev.Reason))
	return hex.EncodeToString(sum[:])
}

// Notify posts ev. Any 2xx is success: Opsgenie answers 202 and processes
// the request asynchronously.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return notify.Outcome(n.ep.PostJSON(ctx, NewAlert(ev, n.providerUID),
		notify.WithHeaders(n.auth)))
}
