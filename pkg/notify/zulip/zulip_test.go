package zulip_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/zulip"
)

// referenceBody is what the form of §4.2 encodes to for the reference event
// at info with metadata, stream "general", topic "flux alerts".
const referenceBody = "content=%23%23+Flux+Status%0A%0A%E2%84%B9%EF%B8%8F+Kustomization%2Fflux-system%2Fpodinfo%0A%0AApplied+revision%3A+main%40sha1%3Aa1afe267b54f38b46b487f6e938a6fd508278c07%0A%0AMetadata%3A%0A%2A+%60revision%60%3A+main%40sha1%3Aa1afe267b54f38b46b487f6e938a6fd508278c07%0A&to=general&topic=flux+alerts&type=stream"

func notifyOnce(t *testing.T, cfg notify.Config, ev event.Event) {
	t.Helper()
	n, err := zulip.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		// path and query are appended to the sink's address: Flux replaces
		// the path and keeps the query.
		path string
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
		{name: "path-replaced-query-kept", severity: event.SeverityInfo, metadata: true, path: "/some/where?x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			notifyOnce(t, notify.Config{
				Address:  notify.Secret(sink.URL + tc.path),
				Channel:  "general/flux alerts",
				Username: "flux-bot@zulip.example.com",
				Password: "zulip-api-key",
			}, notifytest.ReferenceEvent(tc.severity, tc.metadata))
			notifytest.AssertGolden(t, tc.name, sink.Last(t))
		})
	}
}

func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL), Channel: "general/flux alerts", Username: "u", Password: "p"},
		notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := string(sink.Last(t).Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// Flux's zulip_test.go: path, basic auth, content type and the exact form
// fields, decoded.
func TestFluxPost(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	ev := event.Event{
		Severity:       event.SeverityError,
		Message:        "Test event message",
		InvolvedObject: event.ObjectReference{Kind: "Kustomization", Name: "test-ks", Namespace: "default"},
		Metadata:       map[string]string{"key1": "value1", "key2": "value2"},
	}
	notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL), Channel: "general/announcements", Username: "user", Password: "pass"}, ev)
	req := sink.Last(t)
	if req.Method != "POST" || req.URI != "/api/v1/messages" {
		t.Errorf("request line = %s %s", req.Method, req.URI)
	}
	if got := req.Header.Get("Authorization"); got != "Basic dXNlcjpwYXNz" {
		t.Errorf("Authorization = %q", got)
	}
	if got := req.Header.Get("Content-Type"); got != "application/x-www-form-urlencoded" {
		t.Errorf("Content-Type = %q", got)
	}
	form, err := url.ParseQuery(string(req.Body))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"type":    "stream",
		"to":      "general",
		"topic":   "announcements",
		"content": "## Flux Status\n\n⚠️ Kustomization/default/test-ks\n\nTest event message\n\nMetadata:\n* `key1`: value1\n* `key2`: value2\n",
	}
	for k, v := range want {
		if got := form.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(form) != len(want) {
		t.Errorf("form has %d fields, want %d: %v", len(form), len(want), form)
	}
}

// Without credentials there is no Authorization header, as in Flux.
func TestNoCredentials(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL), Channel: "a/b"}, notifytest.ReferenceEvent(event.SeverityInfo, false))
	if got := sink.Last(t).Header.Get("Authorization"); got != "" {
		t.Errorf("Authorization = %q, want none", got)
	}
}

// A topic may hold slashes: the channel splits at the first one.
func TestTopicWithSlash(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL), Channel: "ops/flux/prod"}, notifytest.ReferenceEvent(event.SeverityInfo, false))
	form, err := url.ParseQuery(string(sink.Last(t).Body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("to") != "ops" || form.Get("topic") != "flux/prod" {
		t.Errorf("to = %q, topic = %q", form.Get("to"), form.Get("topic"))
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		address string
		channel string
		want    string
	}{
		{name: "channel without topic", address: "https://zulip.example.com", channel: "invalid_format",
			want: "invalid Zulip channel format, expected <channel>/<topic>, got 'invalid_format'"},
		{name: "empty topic", address: "https://zulip.example.com", channel: "general/",
			want: "invalid Zulip channel format, expected <channel>/<topic>, got 'general/'"},
		{name: "empty stream", address: "https://zulip.example.com", channel: "/announcements",
			want: "invalid Zulip channel format, expected <channel>/<topic>, got '/announcements'"},
		{name: "empty channel", address: "https://zulip.example.com",
			want: "invalid Zulip channel format, expected <channel>/<topic>, got ''"},
		// Flux's control-character case; the reason never quotes the address.
		{name: "control character", address: "\x7f" + notifytest.LeakPathToken, channel: "a/b",
			want: "invalid Zulip endpoint URL: invalid address: net/url: invalid control character in URL"},
		{name: "no scheme", address: "zulip.example.com/" + notifytest.LeakPathToken, channel: "a/b",
			want: "invalid Zulip endpoint URL: invalid address: invalid URI for request"},
		{name: "opaque", address: "mailto:" + notifytest.LeakPathToken, channel: "a/b",
			want: "invalid Zulip endpoint URL: it needs a scheme and a host"},
		{name: "no host", address: "/" + notifytest.LeakPathToken, channel: "a/b",
			want: "invalid Zulip endpoint URL: it needs a scheme and a host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := zulip.New(notify.Config{Address: notify.Secret(tc.address), Channel: tc.channel})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(zulip.New, notify.Config{Channel: "general/flux", Username: "u", Password: "p"}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, zulip.New, func(cfg *notify.Config) { cfg.Channel = "general/flux" })
}
