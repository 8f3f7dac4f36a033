package zoom_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/zoom"
)

// referenceBody is the body of §4.2 for the reference event at info with
// metadata.
const referenceBody = `{"content":{"head":{"text":"kustomization/podinfo.flux-system","sub_head":{"text":"info"}},"body":[{"type":"message","text":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},{"type":"fields","items":[{"key":"revision","value":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"}]}]}}`

const token = "zoom-verification-token"

func newNotifier(t *testing.T, address string) notify.Notifier {
	t.Helper()
	return notifytest.New(t, zoom.New, notify.Config{Address: notify.Secret(address), Token: token})
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		// query is appended to the webhook address.
		query string
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
		// A pinned format is kept and the query left as written.
		{name: "format-pinned", severity: event.SeverityInfo, metadata: true, query: "?z=1&format=message"},
		// format=full is added and the query re-encoded, so sorted.
		{name: "query-reencoded", severity: event.SeverityInfo, metadata: true, query: "?z=1&a=b%20c"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			n := newNotifier(t, sink.URL+"/chat/webhooks/incomingwebhook/abc123"+tc.query)
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(tc.severity, tc.metadata)); err != nil {
				t.Fatal(err)
			}
			notifytest.AssertGolden(t, tc.name, sink.Last(t))
		})
	}
}

func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	if _, err := newNotifier(t, sink.URL).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
		t.Fatal(err)
	}
	req := sink.Last(t)
	if got := string(req.Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
	if got := req.Header.Get("Authorization"); got != token {
		t.Errorf("Authorization = %q, want the raw token", got)
	}
}

// Flux's zoom_test.go: format=full is added or preserved, Authorization is
// the raw token; and, as Flux's code does, an empty format counts as none.
func TestFormat(t *testing.T) {
	for query, want := range map[string]string{
		"":                "/hook?format=full",
		"?format=message": "/hook?format=message",
		"?format=":        "/hook?format=full",
		"?format=full":    "/hook?format=full",
	} {
		sink := notifytest.NewSink(t, nil)
		if _, err := newNotifier(t, sink.URL+"/hook"+query).Notify(context.Background(), notifytest.FluxTestEvent()); err != nil {
			t.Fatal(err)
		}
		if got := sink.Last(t).URI; got != want {
			t.Errorf("query %q: request URI = %s, want %s", query, got, want)
		}
	}
}

// Flux's zoom_test.go payload fields, and sorted metadata.
func TestPayload(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	p := zoom.NewPayload(ev)
	if p.Content.Head.Text != "gitrepository/webapp.gitops-system" || p.Content.Head.SubHead.Text != "info" {
		t.Errorf("head = %+v", p.Content.Head)
	}
	body := p.Content.Body
	if len(body) != 2 || body[0].Type != "message" || body[0].Text != "message" || body[0].Items != nil ||
		body[1].Type != "fields" || len(body[1].Items) != 1 || body[1].Items[0] != (zoom.Field{Key: "test", Value: "metadata"}) {
		t.Errorf("body = %+v", body)
	}

	ev.Metadata = map[string]string{"b": "2", "a": "1", "c": "3"}
	items := zoom.NewPayload(ev).Content.Body[1].Items
	if items[0].Key != "a" || items[1].Key != "b" || items[2].Key != "c" {
		t.Errorf("items not sorted by key: %+v", items)
	}

	// An empty message drops "text", as Flux's omitempty does.
	ev.Message, ev.Metadata = "", nil
	b, err := json.Marshal(zoom.NewPayload(ev))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"content":{"head":{"text":"gitrepository/webapp.gitops-system","sub_head":{"text":"info"}},"body":[{"type":"message"}]}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		address string
		token   string
		want    string
	}{
		{name: "not a URL", address: "invalid-url/" + notifytest.LeakPathToken, token: token,
			want: "invalid Zoom incoming webhook URL: invalid address: invalid URI for request"},
		{name: "empty token", address: "https://integrations.zoom.us/chat/webhooks/incomingwebhook/id",
			want: "empty Zoom verification token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := zoom.New(notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token)})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, newNotifier)
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, zoom.New)
}
