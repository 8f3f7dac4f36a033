// Package sentry reports Flux events to Sentry (Flux's
// internal/notifier/sentry.go): info events as transactions with one span,
// error events as error events, other severities not at all. The address
// is the DSN and the channel the environment.
//
// Unlike Flux, whose asynchronous SDK transport swallows every delivery
// error, Herald sends through its own synchronous transport over the
// shared poster, so each attempt's outcome is classified and retried.
package sentry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/getsentry/sentry-go"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier captures events with a Sentry client whose transport posts them
// in the calling goroutine.
type Notifier struct {
	client *sentry.Client
	dsn    *sentry.Dsn
	// ep posts to the DSN's envelope endpoint.
	ep notify.Endpoint

	// pending maps the ID of each event being captured to its attempt, so
	// that the transport, which the SDK calls without a context or a way to
	// return an error, can use the attempt's context and report back.
	pending sync.Map
}

type attempt struct {
	ctx  context.Context
	err  error
	sent bool
}

// New parses the DSN and builds the Sentry client once.
func New(cfg notify.Config) (*Notifier, error) {
	if cfg.Address == "" {
		return nil, errors.New("DSN cannot be empty")
	}
	dsn, err := sentry.NewDsn(cfg.Address.Reveal())
	if err != nil {
		// DsnParseError names the part that is wrong; only its "invalid
		// url" message goes on to quote the DSN, so that part is cut.
		var perr *sentry.DsnParseError
		if errors.As(err, &perr) {
			reason, _, _ := strings.Cut(perr.Message, ":")
			return nil, fmt.Errorf("invalid DSN: %s", reason)
		}
		return nil, errors.New("invalid DSN")
	}
	n := &Notifier{dsn: dsn, ep: notify.Endpoint{Address: dsn.GetAPIURL().String(), Client: cfg.Client(), Secrets: cfg.SecretValues()}}
	n.client, err = sentry.NewClient(sentry.ClientOptions{
		Dsn:              cfg.Address.Reveal(),
		Environment:      cfg.Channel,
		Transport:        transport{n},
		TracesSampleRate: 1, // as Flux
	})
	if err != nil {
		return nil, errors.New("invalid DSN")
	}
	return n, nil
}

// Notify captures ev and returns the outcome of its one request. Events of
// other severities than info and error are skipped, as Flux skips them.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	var sev *sentry.Event
	switch ev.Severity {
	case event.SeverityInfo:
		sev = Transaction(ev)
	case event.SeverityError:
		sev = ErrorEvent(ev)
	default:
		return false, nil
	}
	sev.EventID = newEventID()
	a := &attempt{ctx: ctx}
	n.pending.Store(sev.EventID, a)
	defer n.pending.Delete(sev.EventID)

	n.client.CaptureEvent(sev, &sentry.EventHint{Context: ctx}, nil)
	if !a.sent {
		// Only sampling or a BeforeSend hook drop events, and Herald sets
		// neither; say so rather than report a delivery that did not happen.
		return false, notify.Permanent(errors.New("the Sentry client dropped the event"))
	}
	return notify.Outcome(a.err)
}

// Summary is the transaction name Flux gives both kinds of event.
func Summary(ev event.Event) string {
	o := ev.InvolvedObject
	return o.Kind + ": " + o.Namespace + "/" + o.Name
}

// Transaction is Flux's eventToSpan: a transaction holding one span with
// op "event" that starts and ends at the event's time, tagged with the
// object, the controller, the reason and the metadata.
func Transaction(ev event.Event) *sentry.Event {
	obj := ev.InvolvedObject
	span := sentry.StartSpan(context.Background(), "event")
	span.SetTag("flux_involved_object_kind", obj.Kind)
	span.SetTag("flux_involved_object_namespace", obj.Namespace)
	span.SetTag("flux_involved_object_name", obj.Name)
	span.SetTag("flux_reporting_controller", ev.ReportingController)
	span.SetTag("flux_reporting_instance", ev.ReportingInstance)
	span.SetTag("flux_reason", ev.Reason)
	span.StartTime = ev.Timestamp.Time
	span.EndTime = ev.Timestamp.Time
	for k, v := range ev.Metadata {
		span.SetTag(k, v)
	}
	return &sentry.Event{
		Type:        "transaction",
		Transaction: Summary(ev),
		Message:     ev.Message,
		Contexts: map[string]sentry.Context{
			"trace": sentry.TraceContext{
				TraceID:      span.TraceID,
				SpanID:       span.SpanID,
				ParentSpanID: span.ParentSpanID,
				Op:           span.Op,
				Description:  span.Description,
				Status:       span.Status,
			}.Map(),
		},
		Tags:      span.Tags,
		Timestamp: span.EndTime,
		StartTime: span.StartTime,
		Spans:     []*sentry.Span{span},
	}
}

// ErrorEvent is Flux's toSentryEvent. The metadata goes to
// contexts.metadata, as Flux's code does (its docs say "extra").
func ErrorEvent(ev event.Event) *sentry.Event {
	metadata := make(sentry.Context, len(ev.Metadata))
	for k, v := range ev.Metadata {
		metadata[k] = v
	}
	return &sentry.Event{
		Timestamp:   ev.Timestamp.Time,
		Level:       sentry.Level(ev.Severity),
		ServerName:  ev.ReportingController,
		Transaction: Summary(ev),
		Contexts:    map[string]sentry.Context{"metadata": metadata},
		Message:     ev.Message,
	}
}

// newEventID is a random UUID without dashes, the form the SDK uses.
func newEventID() sentry.EventID {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return sentry.EventID(hex.EncodeToString(b[:]))
}
