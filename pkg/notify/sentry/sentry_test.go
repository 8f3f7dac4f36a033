package sentry_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	sentrygo "github.com/getsentry/sentry-go"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/sentry"
)

// dsn turns a sink address into a DSN for project 1 with public key
// "public", keeping any path as the DSN's path prefix.
func dsn(t testing.TB, address string) string {
	u, err := url.Parse(address)
	if err != nil {
		t.Fatal(err)
	}
	if u.User == nil {
		u.User = url.User("public")
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/1"
	u.RawQuery = ""
	return u.String()
}

func newNotifier(t *testing.T, address, environment string) notify.Notifier {
	t.Helper()
	return notifytest.New(t, sentry.New, notify.Config{Address: notify.Secret(dsn(t, address)), Channel: environment})
}

// envelope is a decoded one-item Sentry envelope.
type envelope struct {
	Header struct {
		EventID string            `json:"event_id"`
		DSN     string            `json:"dsn"`
		SentAt  string            `json:"sent_at"`
		SDK     map[string]string `json:"sdk"`
	}
	Item struct {
		Type   string `json:"type"`
		Length int    `json:"length"`
	}
	Body  []byte
	Event map[string]any
}

func decodeEnvelope(t *testing.T, data []byte) envelope {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	if len(lines) != 3 {
		t.Fatalf("envelope has %d lines, want 3:\n%s", len(lines), data)
	}
	var e envelope
	if err := json.Unmarshal(lines[0], &e.Header); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(lines[1], &e.Item); err != nil {
		t.Fatal(err)
	}
	e.Body = lines[2]
	if err := json.Unmarshal(e.Body, &e.Event); err != nil {
		t.Fatal(err)
	}
	return e
}

func field(t *testing.T, m map[string]any, path ...string) any {
	t.Helper()
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object at %q", strings.Join(path, "."), p)
		}
		v = mm[p]
	}
	return v
}

func expect(t *testing.T, m map[string]any, want map[string]any) {
	t.Helper()
	for path, w := range want {
		got, _ := json.Marshal(field(t, m, strings.Split(path, "/")...))
		wj, _ := json.Marshal(w)
		if string(got) != string(wj) {
			t.Errorf("%s = %s, want %s", path, got, wj)
		}
	}
}

// The request is the SDK's envelope POST, and an error event carries
// Flux's fields.
func TestErrorEvent(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, sink.URL, "production")
	if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, true)); err != nil {
		t.Fatal(err)
	}
	req := sink.Last(t)
	if req.Method != "POST" || req.URI != "/api/1/envelope/" {
		t.Errorf("request %s %s", req.Method, req.URI)
	}
	client := "sentry.go/" + sentrygo.SDKVersion
	for name, want := range map[string]string{
		"Content-Type":  "application/x-sentry-envelope",
		"User-Agent":    client,
		"X-Sentry-Auth": "Sentry sentry_version=7, sentry_client=" + client + ", sentry_key=public",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	e := decodeEnvelope(t, req.Body)
	if e.Item.Type != "event" || e.Item.Length != len(e.Body) {
		t.Errorf("item header %+v, body length %d", e.Item, len(e.Body))
	}
	if e.Header.DSN != dsn(t, sink.URL) || e.Header.SDK["name"] != "sentry.go" || e.Header.EventID != e.Event["event_id"] {
		t.Errorf("envelope header %+v", e.Header)
	}
	expect(t, e.Event, map[string]any{
		"level":             "error",
		"server_name":       "kustomize-controller",
		"transaction":       "Kustomization: flux-system/podinfo",
		"message":           "Applied revision: " + notifytest.Revision,
		"environment":       "production",
		"timestamp":         "2024-05-06T07:08:09Z",
		"contexts/metadata": map[string]string{"revision": notifytest.Revision},
		"platform":          "go",
	})
	if _, ok := e.Event["type"]; ok {
		t.Errorf("an error event has a type: %v", e.Event["type"])
	}
}

// An info event is a transaction with one span, tagged as in Flux's
// sentry_test.go.
func TestTransaction(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, sink.URL, "")
	ev := notifytest.ReferenceEvent(event.SeverityInfo, true)
	if _, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	e := decodeEnvelope(t, sink.Last(t).Body)
	if e.Item.Type != "transaction" || e.Item.Length != len(e.Body) {
		t.Errorf("item header %+v", e.Item)
	}
	tags := map[string]string{
		"flux_involved_object_kind":      "Kustomization",
		"flux_involved_object_name":      "podinfo",
		"flux_involved_object_namespace": "flux-system",
		"flux_reason":                    "ReconciliationSucceeded",
		"flux_reporting_controller":      "kustomize-controller",
		"flux_reporting_instance":        "kustomize-controller-7c7b47f5f-8bhrp",
		"revision":                       notifytest.Revision,
	}
	expect(t, e.Event, map[string]any{
		"type":              "transaction",
		"transaction":       "Kustomization: flux-system/podinfo",
		"message":           "Applied revision: " + notifytest.Revision,
		"timestamp":         "2024-05-06T07:08:09Z",
		"start_timestamp":   "2024-05-06T07:08:09Z",
		"contexts/trace/op": "event",
		"tags":              tags,
	})
	if _, ok := e.Event["environment"]; ok {
		t.Errorf("environment %v sent without a channel", e.Event["environment"])
	}
	spans, _ := e.Event["spans"].([]any)
	if len(spans) != 1 {
		t.Fatalf("spans = %v, want one", e.Event["spans"])
	}
	span := spans[0].(map[string]any)
	expect(t, span, map[string]any{
		"op":              "event",
		"start_timestamp": "2024-05-06T07:08:09Z",
		"timestamp":       "2024-05-06T07:08:09Z",
		"tags":            tags,
		"trace_id":        field(t, e.Event, "contexts", "trace", "trace_id"),
		"span_id":         field(t, e.Event, "contexts", "trace", "span_id"),
	})
}

// Flux's sentry_test.go, on the event builders.
func TestBuilders(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Metadata = map[string]string{"key1": "val1", "key2": "val2"}
	e := sentry.ErrorEvent(ev)
	if e.ServerName != "source-controller" || e.Transaction != "GitRepository: gitops-system/webapp" || e.Message != "message" || e.Level != sentrygo.LevelInfo {
		t.Errorf("error event %+v", e)
	}
	if got := e.Contexts["metadata"]; len(got) != 2 || got["key1"] != "val1" || got["key2"] != "val2" {
		t.Errorf("contexts.metadata = %v", got)
	}
	tr := sentry.Transaction(ev)
	if tr.Type != "transaction" || !tr.Timestamp.Equal(ev.Timestamp.Time) || tr.Tags["key2"] != "val2" || len(tr.Tags) != 8 {
		t.Errorf("transaction %+v", tr)
	}
}

// Only info and error events are sent.
func TestOtherSeveritiesSkipped(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, sink.URL, "")
	for _, sev := range []string{event.SeverityTrace, "warning", ""} {
		if retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(sev, true)); err != nil || retry {
			t.Errorf("%q: retry=%v err=%v", sev, retry, err)
		}
	}
	if reqs := sink.Requests(); len(reqs) != 0 {
		t.Errorf("%d requests sent", len(reqs))
	}
}

// Delivery errors surface, classified: Sentry's 500 is retryable, its 400
// is not, and a 429's Retry-After is kept.
func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		return newNotifier(t, address, "")
	})
	// Error events go through the same transport.
	sink := notifytest.NewSink(t, notifytest.Status(500, `{"detail":"internal"}`))
	retry, err := newNotifier(t, sink.URL, "").Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, false))
	if err == nil || !retry || !strings.Contains(err.Error(), "status code 500") {
		t.Errorf("retry=%v err=%v", retry, err)
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"", "DSN cannot be empty"},
		{"https://localhost/1", "invalid DSN: empty username"},
		{"ftp://public@localhost/1", "invalid DSN: invalid scheme"},
		{"http://public@127.0.0.1:s3cr3t/1", "invalid DSN: invalid url"},
	} {
		_, err := sentry.New(notify.Config{Address: notify.Secret(tc.dsn)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%q: err = %v, want %q", tc.dsn, err, tc.want)
		}
	}
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, sentry.New, func(cfg *notify.Config) {
		// Make the planted address a DSN: project 1 under the planted path.
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			cfg.Address = notify.Secret(dsn(t, u.String()))
		}
	})
}
