package otel

import (
	"crypto/sha256"
	"slices"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

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

// flags are the span flags the SDK's exporter sets for a sampled span whose
// parent is known not to be remote.
const flags = uint32(0x01) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)

// Request is the export request the exporter would send for ev: one
// resource naming alert, one scope, one span. It is a TracesData, whose
// wire form is that of collector/trace/v1.ExportTraceServiceRequest; using
// it spares the binary the gRPC code of the collector package.
func Request(alert Alert, ev event.Event, end time.Time) *tracepb.TracesData {
	rev := Revision(ev)
	obj := ev.InvolvedObject
	var status *tracepb.Status
	if ev.Severity == event.SeverityError {
		status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: ev.Message}
	} else {
		// The SDK drops the description of a non-error status.
		status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	}
	attrs, dropped := spanAttributes(ev)
	span := &tracepb.Span{
		TraceId:                id(alert.UID, rev, 16),
		SpanId:                 id(obj.UID, rev, 8),
		Flags:                  flags,
		Name:                   obj.Kind + ": " + obj.Namespace + "/" + obj.Name,
		Kind:                   tracepb.Span_SPAN_KIND_INTERNAL,
		StartTimeUnixNano:      uint64(ev.Timestamp.UnixNano()),
		EndTimeUnixNano:        uint64(end.UnixNano()),
		Attributes:             attrs,
		DroppedAttributesCount: dropped,
		Status:                 status,
	}
	// Sorted by key, as the SDK's attribute set is.
	resource := &resourcepb.Resource{Attributes: []*commonpb.KeyValue{
		str("service.instance.id", alert.UID),
		str("service.name", alert.Namespace+"/"+alert.Name),
		str("service.namespace", alert.Namespace),
	}}
	return &tracepb.TracesData{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:   resource,
		SchemaUrl:  SchemaURL,
		ScopeSpans: []*tracepb.ScopeSpans{{Scope: &commonpb.InstrumentationScope{Name: ScopeName}, Spans: []*tracepb.Span{span}}},
	}}}
}

// Marshal encodes r deterministically, so the same event gives the same bytes.
func Marshal(r *tracepb.TracesData) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(r)
}

// spanAttributes are the object's, then the metadata's. Flux ranges over
// the metadata map, so its order is unspecified; Herald sorts by key. A key
// given twice keeps its first place and its last value, and attributes
// beyond the SDK's limit are dropped and counted, as the SDK does.
func spanAttributes(ev event.Event) ([]*commonpb.KeyValue, uint32) {
	obj := ev.InvolvedObject
	attrs := []*commonpb.KeyValue{
		str("object.uid", string(obj.UID)),
		str("object.kind", obj.Kind),
		str("object.name", obj.Name),
		str("object.namespace", obj.Namespace),
	}
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var dropped uint32
	for _, k := range keys {
		if i := slices.IndexFunc(attrs, func(a *commonpb.KeyValue) bool { return a.Key == k }); i >= 0 {
			attrs[i] = str(k, ev.Metadata[k])
			continue
		}
		if len(attrs) == maxAttributes {
			dropped++
			continue
		}
		attrs = append(attrs, str(k, ev.Metadata[k]))
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

// id is the first n bytes of sha256("<uid>:<revision>"), Flux's generateID.
func id(uid, rev string, n int) []byte {
	sum := sha256.Sum256([]byte(uid + ":" + rev))
	return sum[:n]
}

func str(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}
