package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/buffer"
	"github.com/heraldhq/herald/pkg/event"
)

const sample = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps","uid":"7d0cdc51","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"1234"},"severity":"error","timestamp":"2026-11-22T03:04:41Z","message":"health check failed","reason":"HealthCheckFailed","metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:abc"},"reportingController":"kustomize-controller","reportingInstance":"kc-0"}`

// fakeLabels answers label lookups from a map, or with err.
type fakeLabels struct {
	mu     sync.Mutex
	labels map[string]string
	err    error
	asked  []event.ObjectReference
}

func (f *fakeLabels) Labels(ctx context.Context, ref event.ObjectReference) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked = append(f.asked, ref)
	if _, ok := ctx.Deadline(); !ok {
		return nil, errors.New("label lookup without a deadline")
	}
	return f.labels, f.err
}

func openBuffer(t testing.TB) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(t.TempDir(), buffer.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func newRelay(t testing.TB, labels Labels) *Relay {
	t.Helper()
	return &Relay{Buffer: openBuffer(t), Labels: labels, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

func serve(r *Relay, method, target string, body io.Reader) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(method, target, body))
	return w
}

// next is the next buffered record; the buffer must hold one already.
func next(t *testing.T, b *buffer.Buffer) buffer.Record {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // only what is buffered now: Next must not wait
	rec, err := b.Next(ctx)
	if err != nil {
		t.Fatalf("nothing buffered: %v", err)
	}
	return rec
}

func TestAnyPathAndMethod(t *testing.T) {
	for _, c := range []struct{ method, target string }{
		{http.MethodPost, "/"},
		{http.MethodPost, "/events"},
		{http.MethodPut, "/any/path"},
		{http.MethodPatch, "/x?y=z"},
		{http.MethodDelete, "/"},
		{http.MethodGet, "/not-an-ops-endpoint"},
	} {
		t.Run(c.method+" "+c.target, func(t *testing.T) {
			r := newRelay(t, nil)
			w := serve(r, c.method, c.target, strings.NewReader(sample))
			if w.Code != http.StatusAccepted {
				t.Fatalf("status %d, body %s", w.Code, w.Body)
			}
			rec := next(t, r.Buffer)
			if string(rec.Body) != sample {
				t.Fatalf("buffered %s", rec.Body)
			}
			if rec.Key != "Kustomization/flux-system/apps" {
				t.Fatalf("key %q", rec.Key)
			}
		})
	}
}

// eventOfSize is a valid event of exactly n bytes.
func eventOfSize(t *testing.T, n int) []byte {
	t.Helper()
	head := `{"involvedObject":{"kind":"GitRepository","namespace":"flux-system","name":"podinfo"},"message":"`
	tail := `"}`
	if n < len(head)+len(tail) {
		t.Fatal("too small")
	}
	return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
}

// onlyReader hides the body's length, so the client sends it chunked.
type onlyReader struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	r := newRelay(t, nil)
	for _, c := range []struct {
		name    string
		size    int
		chunked bool
		want    int
	}{
		{"3 MiB with Content-Length", MaxEventBytes, false, http.StatusAccepted},
		{"3 MiB chunked", MaxEventBytes, true, http.StatusAccepted},
		{"3 MiB + 1 with Content-Length", MaxEventBytes + 1, false, http.StatusRequestEntityTooLarge},
		{"3 MiB + 1 chunked", MaxEventBytes + 1, true, http.StatusRequestEntityTooLarge},
		{"10 MiB chunked", 10 << 20, true, http.StatusRequestEntityTooLarge},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := r.Buffer.Stats().Events
			var body io.Reader = bytes.NewReader(eventOfSize(t, c.size))
			if c.chunked {
				body = onlyReader{body}
			}
			req := httptest.NewRequest(http.MethodPost, "/", body)
			if c.chunked != (req.ContentLength < 0) {
				t.Fatalf("ContentLength %d; the test does not send what it says", req.ContentLength)
			}
			w := httptest.NewRecorder()
			r.ServeHTTP(w, req)
			if w.Code != c.want {
				t.Fatalf("status %d, want %d", w.Code, c.want)
			}
			added := r.Buffer.Stats().Events - before
			if (c.want == http.StatusAccepted) != (added == 1) {
				t.Fatalf("%d events buffered after a %d", added, w.Code)
			}
			if c.want != http.StatusAccepted {
				var e map[string]string
				if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["error"] == "" {
					t.Fatalf("error body %q: %v", w.Body, err)
				}
			}
		})
	}
}

func TestBadEvents(t *testing.T) {
	for _, c := range []struct{ name, body, wantInError string }{
		{"empty", "", "invalid event JSON"},
		{"not JSON", "hello", "invalid event JSON"},
		{"truncated", `{"involvedObject":{"kind":"GitRepository"`, "invalid event JSON"},
		{"array", `[1,2]`, "invalid event JSON"},
		{"trailing data", sample + `{}`, "invalid event JSON"},
		{"wrong type", `{"involvedObject":"podinfo"}`, "invalid event JSON"},
		{"bad timestamp", `{"involvedObject":{"kind":"K","namespace":"n","name":"x"},"timestamp":"yesterday"}`, "invalid event JSON"},
		{"empty object", `{}`, "involvedObject.kind"},
		{"no involvedObject", `{"message":"m","reason":"r"}`, "involvedObject.kind"},
		{"no name", `{"involvedObject":{"kind":"GitRepository","namespace":"flux-system"}}`, "involvedObject.name"},
		{"no namespace", `{"involvedObject":{"kind":"GitRepository","name":"podinfo"}}`, "involvedObject.namespace"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRelay(t, nil)
			w := serve(r, http.MethodPost, "/", strings.NewReader(c.body))
			if w.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400", w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("Content-Type %q", ct)
			}
			var e map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
				t.Fatalf("error body %q: %v", w.Body, err)
			}
			if !strings.Contains(e["error"], c.wantInError) {
				t.Fatalf("error %q, want it to mention %q", e["error"], c.wantInError)
			}
			if s := r.Buffer.Stats(); s.Events != 0 {
				t.Fatalf("a bad event was buffered: %+v", s)
			}
		})
	}
}

func TestAcceptedOnlyOnceBuffered(t *testing.T) {
	r := newRelay(t, nil)
	at := time.Date(2026, 11, 22, 3, 4, 42, 0, time.UTC)
	r.Now = func() time.Time { return at }
	w := serve(r, http.MethodPost, "/", strings.NewReader(sample))
	if w.Code != http.StatusAccepted || w.Body.Len() != 0 {
		t.Fatalf("status %d, body %q", w.Code, w.Body)
	}
	// The 202 was written after Append returned: the record is there now.
	s := r.Buffer.Stats()
	if s.Events != 1 || !s.Oldest.Equal(at) {
		t.Fatalf("stats after the 202: %+v", s)
	}
	rec := next(t, r.Buffer)
	if string(rec.Body) != sample || !rec.ReceivedAt.Equal(at) {
		t.Fatalf("record %+v", rec)
	}
}

func TestUnavailableBuffer(t *testing.T) {
	r := newRelay(t, nil)
	r.Recent = &Recent{Window: time.Hour, Max: 100}
	if err := r.Buffer.Close(); err != nil {
		t.Fatal(err)
	}
	w := serve(r, http.MethodPost, "/", strings.NewReader(sample))
	if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, Retry-After %q; want 503 that Flux's recorder retries", w.Code, w.Header().Get("Retry-After"))
	}
	// Flux's retry of the same event must be buffered, not taken for a
	// copy already forwarded.
	r.Buffer = openBuffer(t)
	if w := serve(r, http.MethodPost, "/", strings.NewReader(sample)); w.Code != http.StatusAccepted {
		t.Fatalf("retry: status %d", w.Code)
	}
	if s := r.Buffer.Stats(); s.Events != 1 {
		t.Fatalf("the retried event was not buffered: %+v", s)
	}
}

func decodeFields(t *testing.T, b []byte) map[string]json.RawMessage {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// sampleV1 is a v1 event payload (fluxcd/pkg/apis/event v0.32.0) as
// fluxcd/pkg/runtime v0.123.0's recorder marshals it.
const sampleV1 = `{"involvedObject":{"kind":"HelmRelease","namespace":"apps","name":"podinfo","uid":"7d0cdc51","apiVersion":"helm.toolkit.fluxcd.io/v2","resourceVersion":"42"},"relatedObject":{"kind":"HelmChart","namespace":"flux-system","name":"apps-podinfo","apiVersion":"source.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2026-11-22T03:04:41Z","message":"Helm upgrade succeeded","reason":"UpgradeSucceeded","action":"Reconciled","metadata":{"helm.toolkit.fluxcd.io/revision":"6.7.0"},"reportingController":"helm-controller","reportingInstance":"helm-controller-5f7d"}`

// The relay validates a v1 event like a v1beta1 one and buffers both
// payloads byte for byte; an empty action (v1 requires the key, not a value)
// is no reason to refuse one.
func TestV1EventsRelayedUnchanged(t *testing.T) {
	for name, body := range map[string]string{
		"v1":           sampleV1,
		"v1 no action": strings.Replace(sampleV1, `"action":"Reconciled"`, `"action":""`, 1),
		"v1 unrelated": strings.Replace(sampleV1, `"relatedObject":{"kind":"HelmChart","namespace":"flux-system","name":"apps-podinfo","apiVersion":"source.toolkit.fluxcd.io/v1"},`, "", 1),
		"v1beta1":      sample,
	} {
		t.Run(name, func(t *testing.T) {
			r := newRelay(t, nil)
			if w := serve(r, http.MethodPost, "/", strings.NewReader(body)); w.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := next(t, r.Buffer).Body; string(got) != body {
				t.Fatalf("buffered\n%s\nwant\n%s", got, body)
			}
		})
	}
	// A v1 event without the object's namespace is refused as a v1beta1 one is.
	r := newRelay(t, nil)
	bad := strings.Replace(sampleV1, `"namespace":"apps",`, "", 1)
	if w := serve(r, http.MethodPost, "/", strings.NewReader(bad)); w.Code != http.StatusBadRequest ||
		!strings.Contains(w.Body.String(), "involvedObject.namespace") {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
}

func TestLabelsAddedUnknownFieldsKept(t *testing.T) {
	labels := &fakeLabels{labels: map[string]string{"app": "podinfo", "team": "a"}}
	r := newRelay(t, labels)
	// A v1 event: "action" and "relatedObject" pass through as they came.
	in := strings.TrimSuffix(sample, "}") + `,"action":"Reconcile","relatedObject":{"kind":"GitRepository","name":"src"}}`
	if w := serve(r, http.MethodPost, "/", strings.NewReader(in)); w.Code != http.StatusAccepted {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := event.ObjectReference{Kind: "Kustomization", Namespace: "flux-system", Name: "apps", UID: "7d0cdc51",
		APIVersion: "kustomize.toolkit.fluxcd.io/v1", ResourceVersion: "1234"}
	if len(labels.asked) != 1 || labels.asked[0] != want {
		t.Fatalf("labels asked for %+v, want %+v", labels.asked, want)
	}

	got := decodeFields(t, next(t, r.Buffer).Body)
	var gotLabels map[string]string
	if err := json.Unmarshal(got["involvedObjectLabels"], &gotLabels); err != nil || !maps.Equal(gotLabels, labels.labels) {
		t.Fatalf("involvedObjectLabels = %s, want %v", got["involvedObjectLabels"], labels.labels)
	}
	delete(got, "involvedObjectLabels")
	orig := decodeFields(t, []byte(in))
	if len(got) != len(orig) {
		t.Fatalf("fields %v, want %v", keys(got), keys(orig))
	}
	for k, v := range orig {
		if !bytes.Equal(got[k], v) {
			t.Errorf("field %s = %s, want %s", k, got[k], v)
		}
	}
	// And Herald reads the labels back.
	ev, err := event.Decode(next2(t, r, in))
	if err != nil || !maps.Equal(ev.ObjectLabels, labels.labels) {
		t.Fatalf("decoded labels %v, %v", ev.ObjectLabels, err)
	}
}

// next2 posts body again and returns what was buffered for it.
func next2(t *testing.T, r *Relay, body string) []byte {
	t.Helper()
	if w := serve(r, http.MethodPost, "/", strings.NewReader(body)); w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	return next(t, r.Buffer).Body
}

func keys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLabelLookupFailureStillBuffers(t *testing.T) {
	for name, l := range map[string]*fakeLabels{
		"error":          {err: errors.New("the API server is unreachable")},
		"missing object": {labels: nil},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRelay(t, l)
			if w := serve(r, http.MethodPost, "/", strings.NewReader(sample)); w.Code != http.StatusAccepted {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if len(l.asked) != 1 {
				t.Fatalf("asked %d times", len(l.asked))
			}
			if body := next(t, r.Buffer).Body; string(body) != sample {
				t.Fatalf("buffered %s, want the event as posted, without labels", body)
			}
		})
	}
}

func TestWatchEventGetsLabels(t *testing.T) {
	l := &fakeLabels{labels: map[string]string{"app": "podinfo"}}
	r := newRelay(t, l)
	ev, err := event.Decode([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Submit(context.Background(), &ev, nil, "watch"); err != nil {
		t.Fatal(err)
	}
	got, err := event.Decode(next(t, r.Buffer).Body)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got.ObjectLabels, l.labels) || got.Message != ev.Message || got.InvolvedObject != ev.InvolvedObject {
		t.Fatalf("buffered %+v", got)
	}
}

func TestRecentDropsTheOtherSourcesCopy(t *testing.T) {
	r := newRelay(t, nil)
	r.Recent = &Recent{Window: 2 * time.Minute, Max: 100}
	now := time.Date(2026, 11, 22, 3, 4, 42, 0, time.UTC)
	r.Now = func() time.Time { return now }

	if w := serve(r, http.MethodPost, "/", strings.NewReader(sample)); w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	// The same event, as the watch makes it from the Kubernetes Event:
	// another reason and timestamp, the same object, message and revision.
	watched, err := event.Decode([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	watched.Reason, watched.Timestamp, watched.ReportingInstance = "Other", event.NewTime(now), ""
	now = now.Add(time.Second)
	if err := r.Submit(context.Background(), &watched, nil, "watch"); err != nil {
		t.Fatal(err)
	}
	if s := r.Buffer.Stats(); s.Events != 1 {
		t.Fatalf("%d events buffered, want the first sighting only", s.Events)
	}
	// Another message is another event.
	other := watched
	other.Message = "health check passed"
	if err := r.Submit(context.Background(), &other, nil, "watch"); err != nil {
		t.Fatal(err)
	}
	// Past the window, the same event is news again.
	now = now.Add(2 * time.Minute)
	if w := serve(r, http.MethodPost, "/", strings.NewReader(sample)); w.Code != http.StatusAccepted {
		t.Fatalf("status %d", w.Code)
	}
	if s := r.Buffer.Stats(); s.Events != 3 {
		t.Fatalf("%d events buffered, want 3", s.Events)
	}
}

func TestRecentBounded(t *testing.T) {
	rc := &Recent{Window: time.Hour, Max: 10}
	now := time.Unix(0, 0)
	for i := range 100 {
		if !rc.FirstSighting(strings.Repeat("k", i+1), now) {
			t.Fatalf("key %d seen before", i)
		}
		if len(rc.seen) > rc.Max {
			t.Fatalf("%d keys kept, max %d", len(rc.seen), rc.Max)
		}
	}
	if rc.FirstSighting(strings.Repeat("k", 100), now) {
		t.Fatal("the newest key was forgotten")
	}
}

// With an API server, only its labels count: a poster cannot make an event
// match a matchLabels Alert its object does not match. Without one
// (--no-kube) the body's labels pass through.
func TestPostedLabelsOnlyWithoutAPIServer(t *testing.T) {
	in := strings.TrimSuffix(sample, "}") + `,"involvedObjectLabels":{"team":"payments"}}`
	for name, tc := range map[string]struct {
		labels Labels
		want   map[string]string
	}{
		"API server labels win":   {&fakeLabels{labels: map[string]string{"team": "web"}}, map[string]string{"team": "web"}},
		"object has no labels":    {&fakeLabels{labels: map[string]string{}}, nil},
		"lookup failed":           {&fakeLabels{labels: map[string]string{"team": "web"}, err: errors.New("timeout")}, nil},
		"no API server (no-kube)": {nil, map[string]string{"team": "payments"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := newRelay(t, tc.labels)
			ev, err := event.Decode(next2(t, r, in))
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(ev.ObjectLabels, tc.want) {
				t.Fatalf("labels sent %v, want %v", ev.ObjectLabels, tc.want)
			}
		})
	}
}
