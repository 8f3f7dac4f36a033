package otel

import (
	"crypto/sha256"
	"slices"
	"time"

	"github.com/heraldhq/herald/pkg/event"
)

// What Flux's tracer provider puts around its spans.
const (
	// SchemaURL is that of the semconv package Flux builds its resource
	// with (go.opentelemetry.io/otel/semconv/v1.40.0).
	SchemaURL = "https://opentelemetry.io/schemas/1.40.0"
	// ScopeName is Flux's tracer name.
	ScopeName = "flux:notification-controller"
	// maxAttributes is the SDK's default span attribute count limit.
	maxAttributes = 128
)

// Span flags and enums of the OTLP protocol (opentelemetry/proto/trace/v1).
const (
	// Flags is what the SDK's exporter sets for a sampled span whose parent
	// is known not to be remote: W3C sampled, plus CONTEXT_HAS_IS_REMOTE.
	Flags        uint32 = 0x01 | 0x100
	kindInternal        = 1
	statusOK            = 1
	statusError         = 2
)

// Attribute is a string attribute, the only kind Flux sets.
type Attribute struct{ Key, Value string }

// Trace is the one resource and span that the exporter would send for an
// event: Flux's tracer provider, with the SDK's defaults, ends one span.
type Trace struct {
	// Resource is sorted by key, as the SDK's attribute set is.
	Resource   []Attribute
	TraceID    [16]byte
	SpanID     [8]byte
	Name       string
	Start, End time.Time
	Attributes []Attribute
	// DroppedAttributes counts attributes beyond the SDK's limit.
	DroppedAttributes uint32
	// Error is the status: Error(Message) or, when false, Ok without a
	// message, since the SDK drops the description of a non-error status.
	Error   bool
	Message string
}

// NewTrace builds the span for ev, sent for alert and ended at end.
func NewTrace(alert Alert, ev event.Event, end time.Time) Trace {
	rev := Revision(ev)
	obj := ev.InvolvedObject
	t := Trace{
		Resource: []Attribute{
			{"service.instance.id", alert.UID},
			{"service.name", alert.Namespace + "/" + alert.Name},
			{"service.namespace", alert.Namespace},
		},
		Name:  obj.Kind + ": " + obj.Namespace + "/" + obj.Name,
		Start: ev.Timestamp.Time,
		End:   end,
		Error: ev.Severity == event.SeverityError,
	}
	copy(t.TraceID[:], id(alert.UID, rev))
	copy(t.SpanID[:], id(obj.UID, rev))
	if t.Error {
		t.Message = ev.Message
	}
	t.Attributes, t.DroppedAttributes = spanAttributes(ev)
	return t
}

// spanAttributes are the object's, then the metadata's. Flux ranges over
// the metadata map, so its order is unspecified; Herald sorts by key. A key
// given twice keeps its first place and its last value, and attributes
// beyond the SDK's limit are dropped and counted, as the SDK does.
func spanAttributes(ev event.Event) ([]Attribute, uint32) {
	obj := ev.InvolvedObject
	attrs := []Attribute{
		{"object.uid", obj.UID},
		{"object.kind", obj.Kind},
		{"object.name", obj.Name},
		{"object.namespace", obj.Namespace},
	}
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var dropped uint32
	for _, k := range keys {
		if i := slices.IndexFunc(attrs, func(a Attribute) bool { return a.Key == k }); i >= 0 {
			attrs[i].Value = ev.Metadata[k]
			continue
		}
		if len(attrs) == maxAttributes {
			dropped++
			continue
		}
		attrs = append(attrs, Attribute{k, ev.Metadata[k]})
	}
	return attrs, dropped
}

// Revision is Flux's getRevision: "unknown" without a revision, else the
// source-revision metadata, else app-version@oci-digest when both are set,
// else the revision.
func Revision(ev event.Event) string {
	rev, ok := ev.GetRevision()
	if !ok {
		return "unknown"
	}
	appVersion, hasApp := ev.Metadata["app-version"]
	ociDigest, hasOCI := ev.Metadata["oci-digest"]
	if source, ok := ev.Metadata["source-revision"]; ok {
		return source
	} else if hasApp && hasOCI {
		return appVersion + "@" + ociDigest
	}
	return rev
}

// id is sha256("<uid>:<revision>"), Flux's generateID; trace IDs take its
// first 16 bytes, span IDs its first 8.
func id(uid, rev string) []byte {
	sum := sha256.Sum256([]byte(uid + ":" + rev))
	return sum[:]
}
