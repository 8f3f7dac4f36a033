// Package otel exports each Flux event as one OpenTelemetry span, OTLP/HTTP
// protobuf, to the collector URL in the address (Flux's
// internal/notifier/otel.go). Flux drives the OpenTelemetry SDK's
// otlptracehttp exporter; Herald encodes the same request itself
// (encode.go), which keeps the SDK, the exporter and the protobuf runtime
// out of the dispatch binary.
//
// Two inputs of Flux are not available to a Herald notifier. Flux names the
// resource after the Alert and seeds the trace ID with the Alert's UID;
// notify.Config describes the Provider only, so the Provider stands in for
// the Alert. And Flux asks
// the API server for the object's parent Kustomization or source to link
// spans; Herald has no cluster access, so every span is a root span.
package otel

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// ContentType is what OTLP/HTTP binary requests carry
// (https://opentelemetry.io/docs/specs/otlp/#otlphttp-request).
const ContentType = "application/x-protobuf"

// Notifier posts one ExportTraceServiceRequest per event.
type Notifier struct {
	// Now ends each span, as span.End does in Flux. New sets time.Now.
	Now func() time.Time

	ep       notify.Endpoint
	headers  map[string]notify.Secret
	provider Alert
}

// Alert identifies the Alert an event is sent for.
type Alert struct {
	Name, Namespace, UID string
}

// New checks the endpoint and fixes the headers once.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(ep.Address) // NewEndpoint has parsed it
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("invalid address: scheme must be http or https")
	}
	// The exporter keeps only the scheme, host and path of the endpoint.
	ep.Address = (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	return &Notifier{
		Now:      time.Now,
		ep:       ep,
		headers:  headers(cfg),
		provider: Alert{Name: cfg.Name, Namespace: cfg.Namespace, UID: cfg.UID},
	}, nil
}

// headers are the secret's headers plus Flux's Authorization rule: only
// when there are headers and none is "Authorization", the token (else the
// password) is sent as a bearer without a username, or as basic auth with
// one.
func headers(cfg notify.Config) map[string]notify.Secret {
	if len(cfg.Headers) == 0 {
		return nil
	}
	h := make(map[string]notify.Secret, len(cfg.Headers)+1)
	for k, v := range cfg.Headers {
		h[k] = v
	}
	token := cfg.Token
	if token == "" {
		token = cfg.Password
	}
	if h["Authorization"] == "" {
		switch {
		case cfg.Username == "":
			h["Authorization"] = "Bearer " + token
		case token != "":
			h["Authorization"] = notify.Secret("Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+token.Reveal())))
		}
	}
	return h
}

// Notify exports ev as one span. HelmRepository events are skipped, as in
// Flux, which does not treat them as a source of traces.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	if ev.InvolvedObject.Kind == "HelmRepository" {
		return false, nil
	}
	body := NewTrace(n.provider, ev, n.Now()).Marshal()
	// The secret's headers may replace the User-Agent but, as with the
	// exporter, not the Content-Type.
	return notify.Outcome(n.ep.Send(ctx, http.MethodPost, body,
		notify.WithHeaders(n.headers),
		notify.WithHeader("Content-Type", ContentType),
	))
}
