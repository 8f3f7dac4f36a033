package event

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// reflected has Event's fields and tags but not its methods, so that
// encoding/json encodes it by reflection: the reference AppendJSON must
// match byte for byte.
type reflected struct {
	InvolvedObject      ObjectReference   `json:"involvedObject"`
	RelatedObject       *ObjectReference  `json:"relatedObject,omitempty"`
	Severity            string            `json:"severity"`
	Timestamp           Time              `json:"timestamp"`
	Message             string            `json:"message"`
	Reason              string            `json:"reason"`
	Action              *string           `json:"action,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance,omitempty"`
}

// reflectedWire is the ingest body as encoding/json makes it.
type reflectedWire struct {
	reflected
	InvolvedObjectLabels map[string]string `json:"involvedObjectLabels,omitempty"`
}

func checkEncoding(t *testing.T, e Event) {
	t.Helper()
	r := reflected{e.InvolvedObject, e.RelatedObject, e.Severity, e.Timestamp, e.Message, e.Reason,
		e.Action, e.Metadata, e.ReportingController, e.ReportingInstance}
	want, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendJSON(nil); string(got) != string(want) {
		t.Fatalf("AppendJSON:\n got %s\nwant %s", got, want)
	}
	// Through encoding/json, as a field of a larger value (a queued job).
	got, err := json.Marshal(map[string]any{"event": e})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"event":`+string(want)+`}` {
		t.Fatalf("json.Marshal:\n got %s\nwant %s", got, want)
	}
	wantWire, err := json.Marshal(reflectedWire{r, e.ObjectLabels})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := MarshalWithLabels(e); string(got) != string(wantWire) {
		t.Fatalf("MarshalWithLabels:\n got %s\nwant %s", got, wantWire)
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	ts := NewTime(time.Date(2026, 12, 3, 10, 4, 5, 0, time.UTC))
	for name, e := range map[string]Event{
		"zero": {},
		"v1beta1": {
			InvolvedObject: ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "apps", UID: "u", APIVersion: "kustomize.toolkit.fluxcd.io/v1", ResourceVersion: "7", FieldPath: "spec"},
			Severity:       SeverityInfo, Timestamp: ts, Message: "Reconciliation finished in 1s, next run in 10m",
			Reason: "ReconciliationSucceeded", Metadata: map[string]string{"revision": "main@sha1:abc", "a": "<&>"},
			ReportingController: "kustomize-controller", ReportingInstance: "kc-1",
			ObjectLabels: map[string]string{"team": "a"},
		},
		"v1": {
			InvolvedObject: ObjectReference{Kind: "HelmRelease", Name: "x"},
			RelatedObject:  &ObjectReference{Kind: "HelmChart"},
			Action:         NewAction(""),
			Metadata:       map[string]string{},
		},
		"escapes": {
			Message:  "quote \" backslash \\ nl \n cr \r tab \t bs \b ff \f nul \x00 esc \x1b del \x7f html <a&b> ls \u2028 ps \u2029 bad \xff\xfe end é 😀",
			Metadata: map[string]string{"\xc3": "\xe2\x82", "k\"": "v\\"},
		},
	} {
		t.Run(name, func(t *testing.T) { checkEncoding(t, e) })
	}
}

func FuzzAppendJSON(f *testing.F) {
	f.Add("Kustomization", "flux-system", "reconciled <ok> & \"done\"\n", "revision", "main@sha1:1", int64(1764756245), true, "a\u2028\xff")
	f.Add("", "", "", "", "", int64(0), false, "")
	f.Fuzz(func(t *testing.T, kind, namespace, message, key, value string, unix int64, v1 bool, extra string) {
		e := Event{
			InvolvedObject: ObjectReference{Kind: kind, Namespace: namespace, Name: extra},
			Severity:       extra, Message: message, Reason: key,
			Metadata:            map[string]string{key: value, extra: message},
			ReportingController: value, ReportingInstance: extra,
			ObjectLabels: map[string]string{key: extra},
		}
		if unix != 0 {
			e.Timestamp = Time{time.Unix(unix%(1<<40), 0)}
		}
		if v1 {
			e.Action, e.RelatedObject = NewAction(extra), &ObjectReference{Name: value}
		}
		checkEncoding(t, e)
	})
}

// FuzzDecodeFast holds the fast decoder to encoding/json: whatever it
// accepts, encoding/json accepts too and decodes to the same event.
func FuzzDecodeFast(f *testing.F) {
	for _, seed := range []string{
		fluxV1Body,
		`{"involvedObject":{"kind":"K","name":"n","namespace":"ns","apiVersion":"g/v1"},"metadata":{"g/token":"t"},"timestamp":"2024-05-06T07:08:09Z"}`,
		` { "message" : "a\nb \"q\" \u00e9 \ud83d\ude00 \ud800x \/ \t" , "severity":null, "metadata":{}, "action":"", "relatedObject":null } `,
		`{"involvedObjectLabels":{"a":"b","c":"\u0000"},"reportingController":"kc","reportingInstance":"i","reason":"R","timestamp":null}`,
		`{"message":"caf` + "\xc3\xa9 \xff" + `"}`, `{}`, `{"severity":"info",}`, `{"Severity":"x"}`, `{"metadata":{"a":"1","a":"2"}}`,
		`{"timestamp":"2024-05-06T07:08:09+02:00"}`, `{"timestamp":"bad"}`, `{"message":"x"} x`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fast, ok := decodeFast(data)
		if !ok {
			return
		}
		var want wireEvent
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatalf("decodeFast accepted what encoding/json refuses (%v): %q", err, data)
		}
		if !reflect.DeepEqual(fast, want) {
			t.Fatalf("decodeFast(%q):\n got %#v\nwant %#v", data, fast, want)
		}
	})
}

func TestDecodeFastTakesFluxsEvents(t *testing.T) {
	// The bodies Flux's recorder and the forwarder send take the fast path.
	for _, body := range []string{fluxV1Body, fluxV1Beta1Body} {
		if _, ok := decodeFast([]byte(body)); !ok {
			t.Errorf("not decoded by the fast path: %s", body)
		}
	}
}

// BenchmarkDecode compares Decode, which takes the fast path on Flux's
// bodies, with encoding/json on the same body.
func BenchmarkDecode(b *testing.B) {
	body := []byte(fluxV1Beta1Body)
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var w wireEvent
			if err := json.Unmarshal(body, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAppendJSON compares AppendJSON with encoding/json's reflection.
func BenchmarkAppendJSON(b *testing.B) {
	e, err := Decode([]byte(fluxV1Beta1Body))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.AppendJSON(make([]byte, 0, 1024))
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		r := reflected{e.InvolvedObject, e.RelatedObject, e.Severity, e.Timestamp, e.Message, e.Reason,
			e.Action, e.Metadata, e.ReportingController, e.ReportingInstance}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzAppendJSONString holds the string escaper to encoding/json on any
// bytes, whatever the event around them.
func FuzzAppendJSONString(f *testing.F) {
	f.Add("plain")
	f.Add("<a&b> \u2028\u2029 \x00\x1f\x7f \xff\xc3 \"\\ é")
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("AppendJSONString(%q) = %s, want %s", s, got[1:], want)
		}
	})
}
