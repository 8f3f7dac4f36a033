package otel_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/otel"
)

// The Provider that stands in for the Alert.
var provider = notify.Config{Name: "otel", Namespace: "flux-system", UID: "1f2e3d4c-0000-0000-0000-000000000000"}

// end is when the tests' spans end.
var end = time.Date(2024, 5, 6, 7, 8, 10, 500, time.UTC)

func newNotifier(t *testing.T, cfg notify.Config) *otel.Notifier {
	t.Helper()
	cfg.Name, cfg.Namespace, cfg.UID = provider.Name, provider.Namespace, provider.UID
	n, err := otel.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	o := n
	o.Now = func() time.Time { return end }
	return o
}

// decode reads a request body as the collector does: an
// ExportTraceServiceRequest.
func decode(t *testing.T, body []byte) *coltracepb.ExportTraceServiceRequest {
	t.Helper()
	var r coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &r); err != nil {
		t.Fatalf("not an OTLP export request: %v", err)
	}
	return &r
}

// readable is the request with its body decoded and rendered as indented
// JSON, for a golden file a reviewer can read.
func readable(t *testing.T, req notifytest.Request) notifytest.Request {
	t.Helper()
	b, err := json.MarshalIndent(decode(t, req.Body), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	req.Body = b
	return req
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		cfg      notify.Config
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
		// With headers, the token becomes a bearer.
		{name: "headers-bearer", severity: event.SeverityInfo, metadata: true, cfg: notify.Config{
			Token: "t0ken", Headers: map[string]notify.Secret{"X-Scope-OrgID": "tenant-1"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			cfg := tc.cfg
			cfg.Address = notify.Secret(sink.URL + "/v1/traces?dropped=1")
			n := newNotifier(t, cfg)
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(tc.severity, tc.metadata)); err != nil {
				t.Fatal(err)
			}
			req := sink.Last(t)
			if req.Header.Get("Content-Type") != otel.ContentType {
				t.Errorf("Content-Type = %q", req.Header.Get("Content-Type"))
			}
			notifytest.AssertGolden(t, tc.name, readable(t, req))
		})
	}
}

func hexID(s string, n int) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:n])
}

// The span's fields, as Flux's exporter sends them (behaviour reference §4.2).
func TestSpan(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL + "/v1/traces")})
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Metadata["env"] = "prod"
	ev.Metadata["cluster"] = "my-cluster"
	if _, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	req := decode(t, sink.Last(t).Body)
	if len(req.ResourceSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans) != 1 || len(req.ResourceSpans[0].ScopeSpans[0].Spans) != 1 {
		t.Fatalf("want one resource, scope and span: %v", req)
	}
	rs := req.ResourceSpans[0]
	if rs.SchemaUrl != "https://opentelemetry.io/schemas/1.40.0" {
		t.Errorf("schema URL %q", rs.SchemaUrl)
	}
	res := map[string]string{}
	for _, a := range rs.Resource.Attributes {
		res[a.Key] = a.Value.GetStringValue()
	}
	want := map[string]string{"service.name": "flux-system/otel", "service.namespace": "flux-system", "service.instance.id": provider.UID}
	if len(res) != len(want) {
		t.Errorf("resource %v", res)
	}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("resource %s = %q, want %q", k, res[k], v)
		}
	}
	if s := rs.ScopeSpans[0].Scope; s.Name != "flux:notification-controller" || s.Version != "" {
		t.Errorf("scope %v", s)
	}

	span := rs.ScopeSpans[0].Spans[0]
	if span.Name != "Kustomization: flux-system/podinfo" || span.Kind != tracepb.Span_SPAN_KIND_INTERNAL || len(span.ParentSpanId) != 0 {
		t.Errorf("span %q kind %v parent %x", span.Name, span.Kind, span.ParentSpanId)
	}
	// Trace ID: sha256("<alert UID>:<revision>")[:16]; span ID: the
	// object's UID and revision, [:8].
	if got, want := hex.EncodeToString(span.TraceId), hexID(provider.UID+":"+notifytest.Revision, 16); got != want {
		t.Errorf("trace ID %s, want %s", got, want)
	}
	if got, want := hex.EncodeToString(span.TraceId), "7b3deef547a69e53b3dad8db8e24d80f"; got != want {
		t.Errorf("trace ID %s, want the vector %s", got, want)
	}
	if got, want := hex.EncodeToString(span.SpanId), hexID("7d0cdc51-ddcf-4743-b223-83ca5c699632:"+notifytest.Revision, 8); got != want {
		t.Errorf("span ID %s, want %s", got, want)
	}
	if span.StartTimeUnixNano != uint64(ev.Timestamp.UnixNano()) || span.EndTimeUnixNano != uint64(end.UnixNano()) {
		t.Errorf("times %d..%d", span.StartTimeUnixNano, span.EndTimeUnixNano)
	}
	if span.Flags != 0x101 {
		t.Errorf("flags %#x, want sampled with a known-local parent", span.Flags)
	}
	var keys []string
	for _, a := range span.Attributes {
		keys = append(keys, a.Key+"="+a.Value.GetStringValue())
	}
	wantAttrs := []string{
		"object.uid=7d0cdc51-ddcf-4743-b223-83ca5c699632", "object.kind=Kustomization", "object.name=podinfo", "object.namespace=flux-system",
		"cluster=my-cluster", "env=prod", "revision=" + notifytest.Revision,
	}
	if g, w := fmt.Sprint(keys), fmt.Sprint(wantAttrs); g != w {
		t.Errorf("attributes %s, want %s", g, w)
	}
	if span.Status.Code != tracepb.Status_STATUS_CODE_ERROR || span.Status.Message != ev.Message {
		t.Errorf("status %v", span.Status)
	}
}

// Non-error events have an OK status without a message: the SDK drops the
// description of any status but Error.
func TestOKStatus(t *testing.T) {
	r := decode(t, otel.NewTrace(otel.Alert{}, notifytest.ReferenceEvent(event.SeverityInfo, true), end).Marshal())
	st := r.ResourceSpans[0].ScopeSpans[0].Spans[0].Status
	if st.Code != tracepb.Status_STATUS_CODE_OK || st.Message != "" {
		t.Errorf("status %v", st)
	}
}

// The Alert names the resource and seeds the trace ID.
func TestTraceAlert(t *testing.T) {
	a := otel.Alert{Name: "on-call", Namespace: "apps", UID: "alert-uid"}
	body := otel.NewTrace(a, notifytest.ReferenceEvent(event.SeverityInfo, true), time.Now()).Marshal()
	rs := decode(t, body).ResourceSpans[0]
	if got := rs.Resource.Attributes[1].Value.GetStringValue(); got != "apps/on-call" {
		t.Errorf("service.name = %q", got)
	}
	if got := hex.EncodeToString(rs.ScopeSpans[0].Spans[0].TraceId); got != "cad5eeae917f91fca9dbaef33ae42e02" {
		t.Errorf("trace ID %s", got)
	}
}

// Flux's getRevision.
func TestRevision(t *testing.T) {
	tests := []struct {
		metadata map[string]string
		want     string
	}{
		{nil, "unknown"},
		{map[string]string{"app-version": "1.0", "oci-digest": "sha256:abc"}, "unknown"},
		{map[string]string{"revision": "main@sha1:1"}, "main@sha1:1"},
		{map[string]string{"revision": "r", "app-version": "1.0"}, "r"},
		{map[string]string{"revision": "r", "app-version": "1.0", "oci-digest": "sha256:abc"}, "1.0@sha256:abc"},
		{map[string]string{"revision": "r", "app-version": "1.0", "oci-digest": "sha256:abc", "source-revision": "s"}, "s"},
		{map[string]string{"originRevision": "o", "revision": "r"}, "o"},
	}
	for _, tc := range tests {
		ev := notifytest.ReferenceEvent(event.SeverityInfo, false)
		ev.Metadata = tc.metadata
		if got := otel.Revision(ev); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.metadata, got, tc.want)
		}
	}
}

// A metadata key that repeats an object attribute keeps its place and
// takes the metadata's value, as the SDK deduplicates.
func TestDuplicateAttribute(t *testing.T) {
	ev := notifytest.ReferenceEvent(event.SeverityInfo, false)
	ev.Metadata = map[string]string{"object.kind": "Other", "a": "1"}
	var got []string
	for _, a := range otel.NewTrace(otel.Alert{}, ev, end).Attributes {
		got = append(got, a.Key+"="+a.Value)
	}
	if want := "[object.uid=7d0cdc51-ddcf-4743-b223-83ca5c699632 object.kind=Other object.name=podinfo object.namespace=flux-system a=1]"; fmt.Sprint(got) != want {
		t.Errorf("attributes %v", got)
	}
}

func TestHelmRepositorySkipped(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL)})
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.InvolvedObject.Kind = "HelmRepository"
	if retry, err := n.Notify(context.Background(), ev); retry || err != nil {
		t.Fatalf("retry=%v err=%v", retry, err)
	}
	if len(sink.Requests()) != 0 {
		t.Error("HelmRepository event sent")
	}
}

// Flux adds Authorization only when the secret has headers, and never
// over one the headers set.
func TestAuthorization(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("user:t0ken"))
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"no headers, no auth", notify.Config{Token: "t0ken", Username: "user"}, ""},
		{"bearer token", notify.Config{Token: "t0ken", Headers: map[string]notify.Secret{"X-A": "1"}}, "Bearer t0ken"},
		{"bearer password without token", notify.Config{Password: "t0ken", Headers: map[string]notify.Secret{"X-A": "1"}}, "Bearer t0ken"},
		// "Bearer " on the wire; HTTP servers trim the trailing space.
		{"empty bearer", notify.Config{Headers: map[string]notify.Secret{"X-A": "1"}}, "Bearer"},
		{"basic", notify.Config{Username: "user", Token: "t0ken", Headers: map[string]notify.Secret{"X-A": "1"}}, basic},
		{"basic from password", notify.Config{Username: "user", Password: "t0ken", Headers: map[string]notify.Secret{"X-A": "1"}}, basic},
		{"username without secret", notify.Config{Username: "user", Headers: map[string]notify.Secret{"X-A": "1"}}, ""},
		{"header wins", notify.Config{Token: "t0ken", Headers: map[string]notify.Secret{"Authorization": "Custom x"}}, "Custom x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			cfg := tc.cfg
			cfg.Address = notify.Secret(sink.URL)
			if _, err := newNotifier(t, cfg).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
				t.Fatal(err)
			}
			h := sink.Last(t).Header
			if got := h.Get("Authorization"); got != tc.want || tc.want == "" && len(h.Values("Authorization")) != 0 {
				t.Errorf("Authorization = %q, want %q", got, tc.want)
			}
		})
	}
	// A secret Content-Type cannot replace the protobuf one.
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL), Headers: map[string]notify.Secret{"Content-Type": "text/plain"}})
	if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
		t.Fatal(err)
	}
	if got := sink.Last(t).Header.Values("Content-Type"); len(got) != 1 || got[0] != otel.ContentType {
		t.Errorf("Content-Type = %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct{ address, want string }{
		{"", "invalid address: empty url"},
		{"collector:4318/v1/traces", "invalid address: scheme must be http or https"},
		{"otel/v1/traces", "invalid address: invalid URI for request"},
	} {
		_, err := otel.New(notify.Config{Address: notify.Secret(tc.address)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: err = %v, want %q", tc.address, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		return newNotifier(t, notify.Config{Address: notify.Secret(address)})
	})
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, otel.New)
}

// The hand encoder gives exactly the bytes proto.Marshal gives for the
// generated types, which is what Flux's exporter sends.
func TestMarshalMatchesProto(t *testing.T) {
	many := notifytest.ReferenceEvent(event.SeverityInfo, true)
	for i := range 130 {
		many.Metadata[fmt.Sprintf("k%03d", i)] = ""
	}
	empty := notifytest.ReferenceEvent(event.SeverityError, false)
	empty.InvolvedObject = event.ObjectReference{}
	for name, ev := range map[string]event.Event{
		"info":         notifytest.ReferenceEvent(event.SeverityInfo, true),
		"error":        notifytest.ReferenceEvent(event.SeverityError, true),
		"dropped":      many,
		"empty object": empty,
		"escapes & utf-8": func() event.Event {
			e := notifytest.ReferenceEvent(event.SeverityError, true)
			e.Message = "<b>déploiement</b> 💣\n"
			return e
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			tr := otel.NewTrace(otel.Alert{Name: "a", Namespace: "ns", UID: "u"}, ev, end)
			want, err := proto.Marshal(generated(tr))
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.Marshal(); string(got) != string(want) {
				t.Errorf("encoding differs from proto.Marshal:\n got %x\nwant %x", got, want)
			}
		})
	}
}

// generated is tr in the generated OTLP types.
func generated(tr otel.Trace) *coltracepb.ExportTraceServiceRequest {
	kv := func(attrs []otel.Attribute) []*commonpb.KeyValue {
		var out []*commonpb.KeyValue
		for _, a := range attrs {
			out = append(out, &commonpb.KeyValue{Key: a.Key, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: a.Value}}})
		}
		return out
	}
	status := &tracepb.Status{Code: tracepb.Status_STATUS_CODE_OK}
	if tr.Error {
		status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR, Message: tr.Message}
	}
	return &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{{
		Resource:  &resourcepb.Resource{Attributes: kv(tr.Resource)},
		SchemaUrl: otel.SchemaURL,
		ScopeSpans: []*tracepb.ScopeSpans{{
			Scope: &commonpb.InstrumentationScope{Name: otel.ScopeName},
			Spans: []*tracepb.Span{{
				TraceId:                tr.TraceID[:],
				SpanId:                 tr.SpanID[:],
				Flags:                  otel.Flags,
				Name:                   tr.Name,
				Kind:                   tracepb.Span_SPAN_KIND_INTERNAL,
				StartTimeUnixNano:      uint64(tr.Start.UnixNano()),
				EndTimeUnixNano:        uint64(tr.End.UnixNano()),
				Attributes:             kv(tr.Attributes),
				DroppedAttributesCount: tr.DroppedAttributes,
				Status:                 status,
			}},
		}},
	}}}
}
