package sentry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/getsentry/sentry-go"

	"github.com/heraldhq/herald/pkg/notify"
)

// transport is a sentry.Transport that posts each event at once through
// notify.Post and hands the outcome to the attempt that captured it. It is
// the SDK's HTTPSyncTransport (sentry-go transport.go) without its rate
// limiter, which would drop events silently, and with errors returned.
type transport struct{ n *Notifier }

var _ sentry.Transport = transport{}

func (t transport) Configure(sentry.ClientOptions)        {}
func (t transport) Flush(time.Duration) bool              { return true }
func (t transport) FlushWithContext(context.Context) bool { return true }
func (t transport) Close()                                {}

func (t transport) SendEvent(ev *sentry.Event) {
	v, ok := t.n.pending.Load(ev.EventID)
	if !ok {
		return // not captured by Notify, e.g. an SDK-internal event
	}
	a := v.(*attempt)
	a.sent = true
	a.err = t.n.post(a.ctx, ev)
}

// post sends ev as a one-item envelope, as the SDK's envelopeFromBody and
// getRequestFromEnvelope build it (https://develop.sentry.dev/sdk/data-model/envelopes/).
func (n *Notifier) post(ctx context.Context, ev *sentry.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return notify.Permanent(fmt.Errorf("could not encode event as JSON: %w", err))
	}
	var envelope bytes.Buffer
	enc := json.NewEncoder(&envelope)
	itemType := "event"
	if ev.Type == "transaction" {
		itemType = ev.Type
	}
	err = errors.Join(
		enc.Encode(envelopeHeader{
			EventID: ev.EventID,
			SentAt:  time.Now(),
			Dsn:     n.dsn,
			Sdk:     map[string]string{"name": ev.Sdk.Name, "version": ev.Sdk.Version},
		}),
		enc.Encode(itemHeader{Type: itemType, Length: len(body)}),
		enc.Encode(json.RawMessage(body)),
	)
	if err != nil {
		return notify.Permanent(fmt.Errorf("could not encode the envelope: %w", err))
	}

	client := ev.Sdk.Name + "/" + ev.Sdk.Version
	auth := "Sentry sentry_version=7, sentry_client=" + client + ", sentry_key=" + n.dsn.GetPublicKey()
	if secret := n.dsn.GetSecretKey(); secret != "" {
		// Deprecated by Sentry, still sent by the SDK for old self-hosted servers.
		auth += ", sentry_secret=" + secret
	}
	return n.ep.Send(ctx, http.MethodPost, envelope.Bytes(),
		notify.WithContentType("application/x-sentry-envelope"),
		notify.WithHeader("User-Agent", client),
		notify.WithHeaders(map[string]notify.Secret{"X-Sentry-Auth": notify.Secret(auth)}),
	)
}

// envelopeHeader and itemHeader are the SDK's, field for field.
type envelopeHeader struct {
	EventID sentry.EventID    `json:"event_id,omitempty"`
	SentAt  time.Time         `json:"sent_at"`
	Dsn     *sentry.Dsn       `json:"dsn,omitempty"`
	Sdk     map[string]string `json:"sdk,omitempty"`
	Trace   map[string]string `json:"trace,omitempty"`
}

type itemHeader struct {
	Type   string `json:"type"`
	Length int    `json:"length"`
}
