package event

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// MarshalJSON implements json.Marshaler with AppendJSON.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 512)), nil
}

// AppendJSON appends the event's JSON to b: byte for byte what
// encoding/json makes of the struct's tags (FuzzAppendJSON holds it to
// that), without reflection. Every delivery encodes its event, for the
// provider and again for the local state's journal, which made
// encoding/json's reflection a visible part of the ingest path's CPU.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"involvedObject":`...)
	b = e.InvolvedObject.appendJSON(b)
	if e.RelatedObject != nil {
		b = append(b, `,"relatedObject":`...)
		b = e.RelatedObject.appendJSON(b)
	}
	b = append(b, `,"severity":`...)
	b = AppendJSONString(b, e.Severity)
	b = append(b, `,"timestamp":`...)
	b = e.Timestamp.appendJSON(b)
	b = append(b, `,"message":`...)
	b = AppendJSONString(b, e.Message)
	b = append(b, `,"reason":`...)
	b = AppendJSONString(b, e.Reason)
	if e.Action != nil {
		b = append(b, `,"action":`...)
		b = AppendJSONString(b, *e.Action)
	}
	if len(e.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendStringMap(b, e.Metadata)
	}
	b = append(b, `,"reportingController":`...)
	b = AppendJSONString(b, e.ReportingController)
	if e.ReportingInstance != "" {
		b = append(b, `,"reportingInstance":`...)
		b = AppendJSONString(b, e.ReportingInstance)
	}
	return append(b, '}')
}

func (o *ObjectReference) appendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	for _, f := range [...]struct{ key, value string }{
		{`"kind":`, o.Kind},
		{`"namespace":`, o.Namespace},
		{`"name":`, o.Name},
		{`"uid":`, o.UID},
		{`"apiVersion":`, o.APIVersion},
		{`"resourceVersion":`, o.ResourceVersion},
		{`"fieldPath":`, o.FieldPath},
	} {
		if f.value == "" {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, f.key...)
		b = AppendJSONString(b, f.value)
	}
	return append(b, '}')
}

func (t Time) appendJSON(b []byte) []byte {
	if t.IsZero() {
		return append(b, "null"...)
	}
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"')
}

// appendStringMap appends m as encoding/json does: keys in byte order.
func appendStringMap(b []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = AppendJSONString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as encoding/json writes a string: HTML's <, >
// and & and the JavaScript line separators as \u escapes, and each byte of
// invalid UTF-8 as the escape \ufffd. That last is Go 1.26's encoding/json:
// Go 1.27's writes U+FFFD itself, which the tests comparing the two will
// show on a move to Go 1.27. The hand-written encoders of jobs and journal
// records use it too.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
