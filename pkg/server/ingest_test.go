package server

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics/prom"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
	"github.com/heraldhq/herald/pkg/store/memory"
)

// recordingQueue keeps what the handler queued.
type recordingQueue struct {
	mu   sync.Mutex
	jobs []delivery.Job
	err  error
}

func (q *recordingQueue) Enqueue(_ context.Context, jobs ...delivery.Job) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.err != nil {
		return q.err
	}
	q.jobs = append(q.jobs, jobs...)
	return nil
}

type staticConfig struct{ snap *config.Snapshot }

func (c staticConfig) Snapshot() *config.Snapshot { return c.snap }

// noNotifier builds no notifier: ingest never delivers.
var noNotifier = notifiers.New(func(notify.Config) (notify.Notifier, error) { return nil, errors.New("not used") })

func provider(ns, name, typ string) api.Provider {
	return api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1beta3", Kind: api.KindProvider},
		Metadata: api.ObjectMeta{Namespace: ns, Name: name},
		Spec:     api.ProviderSpec{Type: typ, Address: "http://127.0.0.1:1/"},
	}
}

func alertFor(ns, name, providerName string, sources ...api.CrossNamespaceObjectReference) api.Alert {
	return api.Alert{
		TypeMeta: api.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1beta3", Kind: api.KindAlert},
		Metadata: api.ObjectMeta{Namespace: ns, Name: name},
		Spec:     api.AlertSpec{ProviderRef: api.LocalObjectReference{Name: providerName}, EventSources: sources},
	}
}

func newIngest(t testing.TB, cfg *api.Config) (*Ingest, *recordingQueue) {
	t.Helper()
	snap, err := config.NewSnapshot(cfg, noNotifier, config.SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q := &recordingQueue{}
	return &Ingest{
		Config:  staticConfig{snap},
		Dedup:   memory.NewDeduper(5 * time.Minute),
		Queue:   q,
		Metrics: prom.New(),
		Logger:  slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Now:     func() time.Time { return time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) },
	}, q
}

func defaultConfig() *api.Config {
	a := alertFor("flux-system", "all", "hook", api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "*"})
	a.Spec.EventMetadata = map[string]string{"env": "prod"}
	suspended := provider("flux-system", "paused", "generic")
	suspended.Spec.Suspend = true
	return &api.Config{
		Providers: []api.Provider{provider("flux-system", "hook", "generic"), provider("flux-system", "chat", "slack"), suspended},
		Alerts: []api.Alert{a,
			alertFor("flux-system", "chat", "chat", api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "podinfo"}),
			alertFor("flux-system", "paused", "paused", api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "*"}),
			alertFor("flux-system", "dangling", "nope", api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "*"}),
		},
	}
}

const fluxEvent = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","kustomize.toolkit.fluxcd.io/token":"tok","other/x":"y"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

func post(h http.Handler, body string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	maps.Copy(req.Header, header)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorOf(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
	var body struct{ Error string }
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
		t.Fatalf("error body %q is not {\"error\": ...}", rec.Body.String())
	}
	return body.Error
}

func TestIngestQueuesOneJobPerMatchedProvider(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	rec := post(h, fluxEvent, nil)
	if rec.Code != http.StatusAccepted || rec.Body.Len() != 0 {
		t.Fatalf("status %d body %q, want 202 and no body", rec.Code, rec.Body.String())
	}
	if rec.Header().Get("X-RateLimit-Limit") != "1" || rec.Header().Get("X-RateLimit-Remaining") != "0" ||
		rec.Header().Get("X-RateLimit-Reset") != "Sun, 22 Nov 2026 03:05:00 GMT" {
		t.Fatalf("rate limit headers %v", rec.Header())
	}
	// The suspended Provider and the dangling providerRef get nothing.
	if len(q.jobs) != 2 {
		t.Fatalf("%d jobs, want 2: %+v", len(q.jobs), q.jobs)
	}
	byProvider := map[string]delivery.Job{}
	for _, j := range q.jobs {
		byProvider[j.Provider.Name] = j
	}
	hook := byProvider["hook"]
	wantMeta := map[string]string{"env": "prod", "revision": "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"}
	if !maps.Equal(hook.Event.Metadata, wantMeta) {
		t.Fatalf("hook metadata %v, want %v", hook.Event.Metadata, wantMeta)
	}
	if hook.ProviderType != "generic" || hook.Alert != "flux-system/all" || hook.ID == "" {
		t.Fatalf("hook job %+v", hook)
	}
	chat := byProvider["chat"]
	if !maps.Equal(chat.Event.Metadata, map[string]string{"revision": "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"}) {
		t.Fatalf("chat metadata %v", chat.Event.Metadata)
	}
	if chat.ID == hook.ID {
		t.Fatal("two routes share a delivery id")
	}
}

func TestIngestDuplicate(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	post(h, fluxEvent, nil)
	// Another severity and reason are still the same event (§3).
	dup := strings.Replace(strings.Replace(fluxEvent, `"severity":"info"`, `"severity":"error"`, 1), "ReconciliationSucceeded", "Other", 1)
	rec := post(h, dup, nil)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "Sun, 22 Nov 2026 03:05:00 GMT" {
		t.Fatalf("Retry-After %q", got)
	}
	// The forwarder tells this 429 from API Gateway's throttling by it.
	if got := rec.Header().Get(HeaderDuplicate); got != "true" {
		t.Fatalf("%s = %q, want true", HeaderDuplicate, got)
	}
	if !strings.Contains(errorOf(t, rec), "duplicate event") {
		t.Fatalf("body %s", rec.Body.String())
	}
	if len(q.jobs) != 2 {
		t.Fatalf("%d jobs after the duplicate, want 2", len(q.jobs))
	}
	// A new revision is a new event.
	rec = post(h, strings.ReplaceAll(fluxEvent, "a1afe267", "b2bfe267"), nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("new revision: status %d", rec.Code)
	}
}

func TestIngestRejectsBadInput(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	tests := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"not json", `{"involvedObject":`, 400, "invalid event JSON"},
		{"array", `[]`, 400, "invalid event JSON"},
		{"trailing data", `{} {}`, 400, "invalid character '{' after top-level value"},
		{"bad timestamp", `{"timestamp":"yesterday"}`, 400, "timestamp"},
		{"no object", `{"message":"x"}`, 400, "missing involvedObject.kind, involvedObject.name, involvedObject.namespace"},
		{"no name", `{"involvedObject":{"kind":"Kustomization","namespace":"ns"}}`, 400, "missing involvedObject.name"},
		{"too large", `{"message":"` + strings.Repeat("x", MaxEventBytes) + `"}`, 413, "request body exceeds 3 MiB"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(h, tc.body, nil)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if msg := errorOf(t, rec); !strings.Contains(msg, tc.msg) {
				t.Fatalf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
	// A body that ends before its declared length.
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(fluxEvent))
	req.ContentLength = int64(len(fluxEvent) + 10)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if msg := errorOf(t, rec); rec.Code != http.StatusBadRequest || msg != "reading the request body failed" {
		t.Fatalf("short body: %d %q", rec.Code, msg)
	}
	if len(q.jobs) != 0 {
		t.Fatalf("bad input queued %d jobs", len(q.jobs))
	}
}

func TestIngestDropsGatedEvents(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	// A commit status update goes to generic but not to slack (§2.2 step 4).
	body := strings.Replace(fluxEvent, `"other/x":"y"`, `"kustomize.toolkit.fluxcd.io/commit_status":"update"`, 1)
	if rec := post(h, body, nil); rec.Code != http.StatusAccepted {
		t.Fatalf("status %d", rec.Code)
	}
	if len(q.jobs) != 1 || q.jobs[0].ProviderType != "generic" {
		t.Fatalf("jobs %+v, want one generic", q.jobs)
	}
}

func TestIngestEnqueueFailureReleasesTheKey(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	q.err = errors.New("queue down")
	rec := post(h, fluxEvent, nil)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d headers %v, want 503 with Retry-After", rec.Code, rec.Header())
	}
	q.err = nil
	if rec := post(h, fluxEvent, nil); rec.Code != http.StatusAccepted || len(q.jobs) != 2 {
		t.Fatalf("the retried event got %d and %d jobs, want 202 and 2", rec.Code, len(q.jobs))
	}
}

func TestIngestAuthentication(t *testing.T) {
	cfg := defaultConfig()
	// An Alert scoped to another cluster must not see prod's events.
	other := alertFor("flux-system", "staging-only", "hook", api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "*"})
	other.Metadata.Labels = map[string]string{api.ClusterLabel: "staging"}
	cfg.Alerts = append(cfg.Alerts, other)
	h, q := newIngest(t, cfg)
	const token = "s3cr3t-forwarder-token"
	h.Auth = &Authenticator{Tokens: StaticTokens(map[string]string{"prod": token})}
	now := h.Now()

	signed := func(cluster, tok, body string, at time.Time) http.Header {
		hdr := http.Header{}
		clusterauth.Sign(hdr, cluster, []byte(tok), http.MethodPost, "/", []byte(body), at)
		return hdr
	}
	for name, hdr := range map[string]http.Header{
		"unsigned":        nil,
		"wrong token":     signed("prod", "guess", fluxEvent, now),
		"unknown cluster": signed("dev", token, fluxEvent, now),
		"stale":           signed("prod", token, fluxEvent, now.Add(-6*time.Minute)),
		"other body":      signed("prod", token, "{}", now),
	} {
		rec := post(h, fluxEvent, hdr)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("%s: status %d, want 401", name, rec.Code)
		}
		if msg := errorOf(t, rec); strings.Contains(msg, token) {
			t.Fatalf("%s: the error leaks the token: %s", name, msg)
		}
	}
	rec := post(h, fluxEvent, signed("prod", token, fluxEvent, now))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("signed: status %d %s", rec.Code, rec.Body.String())
	}
	if len(q.jobs) != 2 {
		t.Fatalf("%d jobs, want 2 (the staging Alert must not match)", len(q.jobs))
	}
	for _, j := range q.jobs {
		if j.Event.Metadata[event.MetaCluster] != "prod" {
			t.Fatalf("job metadata %v lacks cluster=prod", j.Event.Metadata)
		}
	}
}

// TestIngestRefusesClusterNames: a cluster name is a DNS label. One that
// is not is refused like any bad credential, even when the token source
// knows it (a tokens file written by hand), and never reaches metadata.
func TestIngestRefusesClusterNames(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	const token = "s3cr3t-forwarder-token"
	weird := []string{"we ird/../c lé", "Prod", "prod.eu", "-prod", strings.Repeat("p", 64)}
	tokens := map[string]string{}
	for _, name := range weird {
		tokens[name] = token
	}
	h.Auth = &Authenticator{Tokens: StaticTokens(tokens)}
	for _, name := range weird {
		hdr := http.Header{}
		clusterauth.Sign(hdr, name, []byte(token), http.MethodPost, "/", []byte(fluxEvent), h.Now())
		rec := post(h, fluxEvent, hdr)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("cluster %q: status %d %s, want 401", name, rec.Code, rec.Body.String())
			continue
		}
		if msg := errorOf(t, rec); msg != clusterauth.ErrUnauthenticated.Error() {
			t.Errorf("cluster %q: error %q, want the generic %q", name, msg, clusterauth.ErrUnauthenticated)
		}
	}
	if len(q.jobs) != 0 {
		t.Errorf("%d jobs queued, want none; the first carries cluster %q", len(q.jobs), q.jobs[0].Event.Metadata[event.MetaCluster])
	}
}

// TestIngestRefusesReplays: a signed request is accepted once. Its replay
// is refused with 401 "replayed request" while its timestamp could still
// pass, also after the de-duplication window (here shorter than the
// 5-minute skew) has ended, and also when the first copy was refused as a
// duplicate; the same event signed anew is not a replay.
func TestIngestRefusesReplays(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	h.Dedup = memory.NewDeduper(time.Minute)
	const token = "s3cr3t-forwarder-token"
	h.Auth = &Authenticator{Tokens: StaticTokens(map[string]string{"prod": token})}
	t0 := h.Now()
	now := t0
	h.Now = func() time.Time { return now }
	sign := func() http.Header {
		hdr := http.Header{}
		clusterauth.Sign(hdr, "prod", []byte(token), http.MethodPost, "/", []byte(fluxEvent), now)
		return hdr
	}
	expect := func(step string, hdr http.Header, status, jobs int) {
		t.Helper()
		rec := post(h, fluxEvent, hdr)
		if rec.Code != status {
			t.Fatalf("%s: status %d %s, want %d", step, rec.Code, rec.Body.String(), status)
		}
		if status == http.StatusUnauthorized {
			if msg := errorOf(t, rec); msg != "replayed request" {
				t.Fatalf("%s: error %q, want \"replayed request\"", step, msg)
			}
		}
		if len(q.jobs) != jobs {
			t.Fatalf("%s: %d jobs queued, want %d", step, len(q.jobs), jobs)
		}
	}

	first := sign()
	expect("first", first, http.StatusAccepted, 2)
	now = t0.Add(11 * time.Second)
	expect("replay 11s later", first, http.StatusUnauthorized, 2)
	dup := sign()
	expect("the same event signed anew", dup, http.StatusTooManyRequests, 2)
	now = t0.Add(2 * time.Minute) // the window has ended, the skew has not
	expect("replay after the window", first, http.StatusUnauthorized, 2)
	expect("replay of the duplicate after the window", dup, http.StatusUnauthorized, 2)
	expect("the same event signed anew after the window", sign(), http.StatusAccepted, 4)
	now = t0.Add(5*time.Minute + time.Second)
	rec := post(h, fluxEvent, first)
	if rec.Code != http.StatusUnauthorized || !strings.Contains(errorOf(t, rec), "5 minutes") {
		t.Fatalf("replay past the skew: %d %s, want 401 for its timestamp", rec.Code, rec.Body.String())
	}

	rec = httptest.NewRecorder()
	h.Metrics.(*prom.Metrics).Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if want := `herald_events_rejected_total{reason="replayed"} 3`; !strings.Contains(rec.Body.String(), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestIngestRefusesSignedTimestampSpellings: a timestamp is decimal digits.
// '+1764000000', signed as sent, is another spelling of a valid time,
// which strconv.ParseInt alone took.
func TestIngestRefusesSignedTimestampSpellings(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	const token = "s3cr3t-forwarder-token"
	h.Auth = &Authenticator{Tokens: StaticTokens(map[string]string{"prod": token})}
	unix := strconv.FormatInt(h.Now().Unix(), 10)
	for _, ts := range []string{"+" + unix, " " + unix, unix + " ", "0x" + strconv.FormatInt(h.Now().Unix(), 16)} {
		const nonce = "AK3YF2QXJ6PVT5RM7LWZNB4HDE"
		hdr := http.Header{}
		hdr.Set(HeaderCluster, "prod")
		hdr.Set(HeaderTimestamp, ts)
		hdr.Set(HeaderNonce, nonce)
		hdr.Set(HeaderSignature, "sha256="+hex.EncodeToString(clusterauth.Signature([]byte(token), ts, nonce, http.MethodPost, "/", []byte(fluxEvent))))
		if rec := post(h, fluxEvent, hdr); rec.Code != http.StatusUnauthorized {
			t.Errorf("timestamp %q: status %d %s, want 401", ts, rec.Code, rec.Body.String())
		}
	}
	if len(q.jobs) != 0 {
		t.Errorf("%d jobs queued, want none", len(q.jobs))
	}
}

func TestRoutes(t *testing.T) {
	h, _ := newIngest(t, defaultConfig())
	mux := Routes(Handlers{Ingest: h, Config: h.Config, Inbox: NewInbox(10)}, h.Metrics.(*prom.Metrics).Handler())
	post(mux, fluxEvent, nil)
	post(mux, fluxEvent, nil)
	for path, want := range map[string]string{
		"/healthz": `"status":"ok"`,
		"/readyz":  `"status":"ready"`,
		"/metrics": "herald_events_duplicate_total 1",
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), want) {
			t.Fatalf("GET %s: %d, body lacks %q:\n%.500s", path, rec.Code, want, rec.Body.String())
		}
	}
	// Any other path ingests, as in Flux.
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPut, "/any/path", strings.NewReader(strings.ReplaceAll(fluxEvent, "podinfo", "other"))))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("PUT /any/path: %d", rec.Code)
	}
}

type discardQueue struct{}

func (discardQueue) Enqueue(context.Context, ...delivery.Job) error { return nil }

// BenchmarkIngest runs the ingest handler end to end without a network: 100
// Alerts in 10 namespaces, unique events each matching one Alert.
func BenchmarkIngest(b *testing.B) {
	cfg := &api.Config{}
	for i := range 100 {
		ns := fmt.Sprintf("ns-%d", i%10)
		name := fmt.Sprintf("app-%d", i)
		cfg.Providers = append(cfg.Providers, provider(ns, name, "generic"))
		cfg.Alerts = append(cfg.Alerts, alertFor(ns, name, name, api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: name}))
	}
	h, _ := newIngest(b, cfg)
	h.Queue = discardQueue{}
	bodies := make([]string, 1000)
	for i := range bodies {
		bodies[i] = strings.NewReplacer(`"namespace":"flux-system","name":"podinfo"`,
			fmt.Sprintf(`"namespace":"ns-%d","name":"app-%d"`, i%10, i%100)).Replace(fluxEvent)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// A unique message per iteration keeps every event new.
		body := strings.Replace(bodies[i%len(bodies)], "Applied revision", fmt.Sprintf("Applied %d", i), 1)
		i++
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatalf("status %d: %s", rec.Code, rec.Body.String())
		}
	}
}

func TestIngestWithoutConfigRefusesAndKeepsTheKey(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	loaded := h.Config
	h.Config = staticConfig{}
	rec := post(h, fluxEvent, nil)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("status %d, want 503 with Retry-After", rec.Code)
	}
	if msg := errorOf(t, rec); !strings.Contains(msg, "config not loaded") {
		t.Fatalf("error %q", msg)
	}
	// The sender's retry, once config is there, is not a duplicate.
	h.Config = loaded
	if rec := post(h, fluxEvent, nil); rec.Code != http.StatusAccepted || len(q.jobs) != 2 {
		t.Fatalf("retry: status %d, %d jobs", rec.Code, len(q.jobs))
	}
}

// fluxEventV1 is fluxEvent as the v1 payload of fluxcd/pkg/apis/event: the
// same fields plus action and relatedObject.
var fluxEventV1 = strings.Replace(strings.Replace(fluxEvent,
	`,"severity"`, `,"relatedObject":{"kind":"GitRepository","namespace":"flux-system","name":"flux-system","apiVersion":"source.toolkit.fluxcd.io/v1"},"severity"`, 1),
	`,"metadata"`, `,"action":"Reconciled","metadata"`, 1)

// A v1 event is recognised without being told, keeps its action and related
// object through to the queued job, and has the de-duplication key of the
// same event in v1beta1: one is a duplicate of the other.
func TestIngestV1Event(t *testing.T) {
	h, q := newIngest(t, defaultConfig())
	rec := post(h, fluxEventV1, nil)
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.String())
	}
	if len(q.jobs) != 2 {
		t.Fatalf("%d jobs, want 2", len(q.jobs))
	}
	// Jobs travel as JSON through the queue: check them after the trip.
	raw, err := json.Marshal(q.jobs[0])
	if err != nil {
		t.Fatal(err)
	}
	var job delivery.Job
	if err := json.Unmarshal(raw, &job); err != nil {
		t.Fatal(err)
	}
	ev := job.Event
	if ev.PayloadVersion() != event.PayloadV1 || ev.Action == nil || *ev.Action != "Reconciled" ||
		ev.RelatedObject == nil || ev.RelatedObject.Kind != "GitRepository" || ev.RelatedObject.Name != "flux-system" {
		t.Fatalf("queued event lost its v1 fields: %+v", ev)
	}
	if _, ok := ev.Metadata["token"]; ok {
		t.Fatalf("token reached the job: %v", ev.Metadata)
	}
	if rec := post(h, fluxEvent, nil); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("the v1beta1 form of the same event: status %d, want 429", rec.Code)
	}
}
