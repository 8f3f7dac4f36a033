package otel

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Marshal encodes t as an ExportTraceServiceRequest
// (opentelemetry/proto/collector/trace/v1), byte for byte as proto.Marshal
// encodes the generated types: fields in number order, proto3 zero values
// left out. It is written out with protowire because the generated types
// pull in the protobuf runtime, which grew the dispatch binary by 9.7 MB;
// the tests check it against proto.Marshal.
func (t Trace) Marshal() []byte {
	var span []byte
	span = bytesField(span, 1, t.TraceID[:])
	span = bytesField(span, 2, t.SpanID[:])
	span = stringField(span, 5, t.Name)
	span = protowire.AppendTag(span, 6, protowire.VarintType)
	span = protowire.AppendVarint(span, kindInternal)
	span = fixed64Field(span, 7, uint64(t.Start.UnixNano()))
	span = fixed64Field(span, 8, uint64(t.End.UnixNano()))
	for _, a := range t.Attributes {
		span = bytesField(span, 9, keyValue(a))
	}
	if t.DroppedAttributes > 0 {
		span = protowire.AppendTag(span, 10, protowire.VarintType)
		span = protowire.AppendVarint(span, uint64(t.DroppedAttributes))
	}
	var status []byte
	status = stringField(status, 2, t.Message)
	code := uint64(statusOK)
	if t.Error {
		code = statusError
	}
	status = protowire.AppendTag(status, 3, protowire.VarintType)
	status = protowire.AppendVarint(status, code)
	span = bytesField(span, 15, status)
	span = protowire.AppendTag(span, 16, protowire.Fixed32Type)
	span = protowire.AppendFixed32(span, Flags)

	scope := stringField(nil, 1, ScopeName)
	var scopeSpans []byte
	scopeSpans = bytesField(scopeSpans, 1, scope)
	scopeSpans = bytesField(scopeSpans, 2, span)

	var resource []byte
	for _, a := range t.Resource {
		resource = bytesField(resource, 1, keyValue(a))
	}
	var resourceSpans []byte
	resourceSpans = bytesField(resourceSpans, 1, resource)
	resourceSpans = bytesField(resourceSpans, 2, scopeSpans)
	resourceSpans = stringField(resourceSpans, 3, SchemaURL)

	return bytesField(nil, 1, resourceSpans)
}

// keyValue is a KeyValue with a string AnyValue. The value is a oneof, so it
// is sent even when empty.
func keyValue(a Attribute) []byte {
	value := protowire.AppendTag(nil, 1, protowire.BytesType)
	value = protowire.AppendString(value, a.Value)
	return bytesField(stringField(nil, 1, a.Key), 2, value)
}

// bytesField appends a length-delimited field: a sub-message (present even
// when empty) or a bytes value.
func bytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// stringField appends a proto3 string, left out when empty.
func stringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func fixed64Field(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, v)
}
