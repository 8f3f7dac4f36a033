// Package datadog posts Flux events to the Datadog Events API v1 (Flux's
// internal/notifier/datadog.go; https://docs.datadoghq.com/api/latest/events/#post-an-event).
//
// Flux sends through the Datadog Go SDK (datadog-api-client-go v2). Herald
// sends the same request with the shared poster: the SDK's URL, headers and
// body bytes, but Go's default User-Agent rather than the SDK's
// "datadog-api-client-go/<version> (go <version>; os <os>; arch <arch>)",
// and any 2xx is success, where the SDK also fails on a reply that is not
// JSON.
package datadog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// DefaultBaseURL is the SDK's server when the address gives no host.
const DefaultBaseURL = "https://api.datadoghq.com"

// Notifier posts events with one API key.
type Notifier struct {
	// BaseURL is scheme://host; /api/v1/events is appended. New takes the
	// scheme and host of the address, each defaulting to DefaultBaseURL's,
	// as the SDK does with its Host and Scheme settings.
	BaseURL string

	ep     notify.Endpoint
	apiKey map[string]notify.Secret
}

// New builds a Datadog notifier: cfg.Address is the API site, e.g.
// https://api.datadoghq.eu, whose path is ignored, and cfg.Token the API key
// (not an application key).
func New(cfg notify.Config) (*Notifier, error) {
	if cfg.Token == "" {
		return nil, errors.New("token cannot be empty")
	}
	// url.Parse, not ParseRequestURI, as in Flux: an empty address or one
	// without a scheme is accepted and falls back to the default site.
	u, err := url.Parse(cfg.Address.Reveal())
	if err != nil {
		return nil, fmt.Errorf("failed to parse address: %s", reason(err))
	}
	base, _ := url.Parse(DefaultBaseURL)
	if u.Host != "" {
		base.Host = u.Host
	}
	if u.Scheme != "" {
		base.Scheme = u.Scheme
	}
	return &Notifier{
		BaseURL: base.String(),
		ep:      notify.Endpoint{Client: cfg.Client(), Secrets: cfg.SecretValues()},
		apiKey:  map[string]notify.Secret{"DD-API-KEY": cfg.Token},
	}, nil
}

// Event is the SDK's EventCreateRequest as Flux fills it. The SDK marshals
// a map, so the keys come out sorted; the fields are declared in that order.
type Event struct {
	AlertType      string   `json:"alert_type"`
	DateHappened   int64    `json:"date_happened"`
	SourceTypeName string   `json:"source_type_name"`
	Tags           []string `json:"tags"`
	Text           string   `json:"text"`
	Title          string   `json:"title"`
}

// NewEvent builds Flux's event. Its title matches the events of Datadog's
// Kubernetes integration and its source the Datadog Flux integration.
func NewEvent(ev event.Event) Event {
	o := ev.InvolvedObject
	alertType := "info"
	if ev.Severity == event.SeverityError {
		alertType = "error"
	}
	tags := []string{
		"flux_reporting_controller:" + ev.ReportingController,
		"flux_reason:" + ev.Reason,
		"kube_kind:" + o.Kind,
		"kube_name:" + o.Name,
		"kube_namespace:" + o.Namespace,
	}
	// Flux ranges over the metadata map, in no set order; sorted here so
	// that Herald's requests are reproducible.
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		tags = append(tags, k+":"+ev.Metadata[k])
	}
	// Datadog lower-cases tags (https://docs.datadoghq.com/getting_started/tagging/);
	// Flux does it first, so that events stay consistent.
	for i := range tags {
		tags[i] = strings.ToLower(tags[i])
	}
	return Event{
		AlertType:      alertType,
		DateHappened:   ev.Timestamp.Unix(),
		SourceTypeName: "fluxcd",
		Tags:           tags,
		Text:           ev.Message,
		Title:          fmt.Sprintf("Events from the %s %s/%s", o.Kind, o.Name, o.Namespace),
	}
}

// Notify posts ev as the SDK does: the body from a json.Encoder, with its
// trailing newline, and Accept: application/json.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	var body bytes.Buffer
	if err := json.NewEncoder(&body).Encode(NewEvent(ev)); err != nil {
		return false, notify.Permanent(fmt.Errorf("marshalling notification payload failed: %w", err))
	}
	return notify.Outcome(n.ep.At(n.BaseURL+"/api/v1/events").Send(ctx, http.MethodPost, body.Bytes(),
		notify.WithHeader("Accept", "application/json"),
		notify.WithHeaders(n.apiKey)))
}

// quoted matches the pieces of the address that net/url quotes in its
// reasons, e.g. `invalid port ":x" after host`.
var quoted = regexp.MustCompile(`"[^"]*"`)

// reason is why the address did not parse, without the address or the
// pieces of it that may be the secret.
func reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return quoted.ReplaceAllString(err.Error(), "<secret>")
}
