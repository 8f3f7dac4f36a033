package relay

import (
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
)

// FuzzServeHTTP: whatever the body, the relay answers 202, 400 or 413 and
// never panics; what it accepts is buffered as an event Herald can decode.
func FuzzServeHTTP(f *testing.F) {
	for _, seed := range []string{
		sample,
		strings.TrimSuffix(sample, "}") + `,"involvedObjectLabels":{"a":"b"},"x":[1,{"y":null}]}`,
		`{}`, ``, `null`, `[]`, `"s"`, `{"involvedObject":null}`,
		`{"involvedObject":{"kind":"K","namespace":"n","name":"x"},"metadata":{"a":1}}`,
		`{"involvedObject":{"kind":"K","namespace":"n","name":"x"},"timestamp":"2026-11-22T03:04:41.5+02:00"}`,
		`{"involvedObject":{"kind":"K","namespace":"n","name":"x"},"involvedObject":{"kind":""}}`,
		"{\"involvedObject\":{\"kind\":\"K\",\"namespace\":\"n\",\"name\":\"\xff\"}}",
	} {
		f.Add([]byte(seed))
	}
	// One relay per worker process: buffers are slow to open. Labels are
	// added, so the re-encoding path runs too.
	r := newRelay(f, &fakeLabels{labels: map[string]string{"app": "x"}})
	f.Fuzz(func(t *testing.T, body []byte) {
		w := serve(r, http.MethodPost, "/", strings.NewReader(string(body)))
		switch w.Code {
		case http.StatusAccepted:
			rec := next(t, r.Buffer)
			r.Buffer.Ack(rec.Index)
			ev, err := event.Decode(rec.Body)
			if err != nil {
				t.Fatalf("accepted %q, buffered %q that does not decode: %v", body, rec.Body, err)
			}
			if err := ev.Validate(); err != nil {
				t.Fatalf("accepted %q: %v", body, err)
			}
			if ev.ObjectLabels["app"] != "x" {
				t.Fatalf("accepted %q without its labels: %q", body, rec.Body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
		default:
			t.Fatalf("status %d for %q: %s", w.Code, body, w.Body)
		}
	})
}
