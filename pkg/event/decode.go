package event

import (
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// decodeFast decodes the ingest bodies Flux's recorder and the forwarder
// send, without reflection and in one pass: an object with each known key
// at most once, spelled exactly, with string, object or null values of the
// expected kinds. It reports false for anything else, however valid,
// and Decode then hands the body to encoding/json, which decides what it
// means or what is wrong with it. On what it accepts, it gives exactly
// encoding/json's result (FuzzDecodeFast holds it to that).
func decodeFast(data []byte) (w wireEvent, ok bool) {
	d := fastDecoder{data: data}
	var seen uint16
	if !d.skipSpace() || !d.consume('{') {
		return w, false
	}
	if d.skipSpace() && d.peek() == '}' {
		d.pos++
		return w, d.end()
	}
	for {
		key, ok := d.key()
		if !ok {
			return w, false
		}
		bit, ok := topKeys[key]
		if !ok || seen&bit != 0 {
			return w, false
		}
		seen |= bit
		e := &w.Event
		switch key {
		case "involvedObject":
			ok = d.objectRef(&e.InvolvedObject)
		case "relatedObject":
			if d.null() {
				e.RelatedObject = nil
				break
			}
			e.RelatedObject = new(ObjectReference)
			ok = d.objectRef(e.RelatedObject)
		case "severity":
			e.Severity, ok = d.stringOrNull(e.Severity)
		case "timestamp":
			ok = d.timestamp(&e.Timestamp)
		case "message":
			e.Message, ok = d.stringOrNull(e.Message)
		case "reason":
			e.Reason, ok = d.stringOrNull(e.Reason)
		case "action":
			if d.null() {
				break
			}
			var s string
			if s, ok = d.string(); ok {
				e.Action = &s
			}
		case "metadata":
			e.Metadata, ok = d.stringMap()
		case "reportingController":
			e.ReportingController, ok = d.stringOrNull(e.ReportingController)
		case "reportingInstance":
			e.ReportingInstance, ok = d.stringOrNull(e.ReportingInstance)
		case "involvedObjectLabels":
			w.InvolvedObjectLabels, ok = d.stringMap()
		}
		if !ok || !d.skipSpace() {
			return w, false
		}
		switch d.next() {
		case ',':
			continue
		case '}':
			return w, d.end()
		default:
			return w, false
		}
	}
}

var topKeys = map[string]uint16{
	"involvedObject": 1 << 0, "relatedObject": 1 << 1, "severity": 1 << 2, "timestamp": 1 << 3,
	"message": 1 << 4, "reason": 1 << 5, "action": 1 << 6, "metadata": 1 << 7,
	"reportingController": 1 << 8, "reportingInstance": 1 << 9, "involvedObjectLabels": 1 << 10,
}

type fastDecoder struct {
	data []byte
	pos  int
}

// skipSpace skips JSON whitespace and reports whether input remains.
func (d *fastDecoder) skipSpace() bool {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return true
		}
	}
	return false
}

func (d *fastDecoder) peek() byte { return d.data[d.pos] }

func (d *fastDecoder) next() byte {
	c := d.data[d.pos]
	d.pos++
	return c
}

func (d *fastDecoder) consume(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// end reports whether only whitespace follows.
func (d *fastDecoder) end() bool { return !d.skipSpace() }

// key reads an object key and its colon.
func (d *fastDecoder) key() (string, bool) {
	if !d.skipSpace() {
		return "", false
	}
	k, ok := d.string()
	if !ok || !d.skipSpace() || !d.consume(':') {
		return "", false
	}
	return k, d.skipSpace()
}

// null consumes a null literal when one comes next.
func (d *fastDecoder) null() bool {
	if len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// stringOrNull reads a string; null leaves old, as encoding/json does.
func (d *fastDecoder) stringOrNull(old string) (string, bool) {
	if d.null() {
		return old, true
	}
	return d.string()
}

// string reads a JSON string. Invalid UTF-8 and lone surrogates become
// U+FFFD, as encoding/json makes them.
func (d *fastDecoder) string() (string, bool) {
	if !d.consume('"') {
		return "", false
	}
	start := d.pos
	// The common case: no escapes and ASCII only, copied at once.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		d.pos++
	}
	buf := append(make([]byte, 0, d.pos-start+16), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), true
		case c < 0x20:
			return "", false
		case c == '\\':
			if d.pos+1 >= len(d.data) {
				return "", false
			}
			esc := d.data[d.pos+1]
			d.pos += 2
			switch esc {
			case '"', '\\', '/':
				buf = append(buf, esc)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := d.hex4()
				if !ok {
					return "", false
				}
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else is U+FFFD, and
					// what follows is read on its own.
					if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
						save := d.pos
						d.pos += 2
						r2, ok := d.hex4()
						if !ok {
							return "", false
						}
						if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
							buf = utf8.AppendRune(buf, dec)
							continue
						}
						d.pos = save
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
			default:
				return "", false
			}
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, d.data[d.pos:d.pos+size]...)
			}
			d.pos += size
		}
	}
	return "", false
}

func (d *fastDecoder) hex4() (rune, bool) {
	if len(d.data)-d.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	d.pos += 4
	return r, true
}

// objectRef reads an object reference into o; null leaves it as it is.
func (d *fastDecoder) objectRef(o *ObjectReference) bool {
	if d.null() {
		return true
	}
	if !d.consume('{') || !d.skipSpace() {
		return false
	}
	if d.peek() == '}' {
		d.pos++
		return true
	}
	var seen uint8
	for {
		key, ok := d.key()
		if !ok {
			return false
		}
		var field *string
		var bit uint8
		switch key {
		case "kind":
			field, bit = &o.Kind, 1<<0
		case "namespace":
			field, bit = &o.Namespace, 1<<1
		case "name":
			field, bit = &o.Name, 1<<2
		case "uid":
			field, bit = &o.UID, 1<<3
		case "apiVersion":
			field, bit = &o.APIVersion, 1<<4
		case "resourceVersion":
			field, bit = &o.ResourceVersion, 1<<5
		case "fieldPath":
			field, bit = &o.FieldPath, 1<<6
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if *field, ok = d.stringOrNull(*field); !ok || !d.skipSpace() {
			return false
		}
		switch d.next() {
		case ',':
		case '}':
			return true
		default:
			return false
		}
	}
}

// stringMap reads an object of strings, or null as a nil map.
func (d *fastDecoder) stringMap() (map[string]string, bool) {
	if d.null() {
		return nil, true
	}
	if !d.consume('{') || !d.skipSpace() {
		return nil, false
	}
	m := make(map[string]string, 8)
	if d.peek() == '}' {
		d.pos++
		return m, true
	}
	for {
		key, ok := d.key()
		if !ok {
			return nil, false
		}
		if d.null() {
			// encoding/json stores a null map value as "", and a
			// repeated key's later value wins: not worth copying.
			return nil, false
		}
		v, ok := d.string()
		if !ok || !d.skipSpace() {
			return nil, false
		}
		if _, dup := m[key]; dup {
			return nil, false
		}
		m[key] = v
		switch d.next() {
		case ',':
		case '}':
			return m, true
		default:
			return nil, false
		}
	}
}

// timestamp reads what Time.UnmarshalJSON accepts: null, or an RFC 3339
// string without escapes. Anything else is left to encoding/json, which
// reports it with Time's own errors.
func (d *fastDecoder) timestamp(t *Time) bool {
	if d.null() {
		t.Time = time.Time{}
		return true
	}
	start := d.pos
	s, ok := d.string()
	if !ok || d.pos-start != len(s)+2 {
		return false
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return false
	}
	t.Time = parsed.Local()
	return true
}
