package webex_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/webex"
)

const roomID = "Y2lzY29zcGFyazovL3VzL1JPT00vYmJjZWIxYWQtNDNmMS0zYjU4LTkxNDctZjE0YmIwYzRkMTU0"

// The body of the behaviour reference §4.2 for the reference event.
const referenceBody = `{"roomId":"` + roomID + `","markdown":"✅ **kustomization/podinfo.flux-system**\nApplied revision: ` + notifytest.Revision + `\n\u003e**revision**: ` + notifytest.Revision + `\n"}`

func send(t *testing.T, cfg notify.Config, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	cfg.Address = notify.Secret(sink.URL + "/v1/messages")
	n := notifytest.New(t, webex.New, cfg)
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		channel  string
		token    string
		severity string
		metadata bool
	}{
		{"info", roomID, "bot-token", event.SeverityInfo, true},
		{"info-no-metadata", roomID, "bot-token", event.SeverityInfo, false},
		{"error", roomID, "bot-token", event.SeverityError, true},
		{"error-no-metadata", roomID, "bot-token", event.SeverityError, false},
		// Flux sends "Bearer " without a token, and omits an empty roomId.
		{"no-token-no-channel", "", "", event.SeverityInfo, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := send(t, notify.Config{Channel: tc.channel, Token: notify.Secret(tc.token)},
				notifytest.ReferenceEvent(tc.severity, tc.metadata))
			notifytest.AssertGolden(t, tc.name, req)
			want := "Bearer " + tc.token
			if tc.token == "" {
				want = "Bearer" // Go trims header values on the wire
			}
			if got := req.Header.Values("Authorization"); len(got) != 1 || got[0] != want {
				t.Errorf("Authorization = %q, want [%s]", got, want)
			}
		})
	}
}

func TestReferenceBody(t *testing.T) {
	req := send(t, notify.Config{Channel: roomID, Token: "t"}, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := string(req.Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// testEvent() of Flux's tests through CreateMarkdown, and an error with
// metadata in key order.
func TestMarkdown(t *testing.T) {
	if got, want := webex.Markdown(notifytest.FluxTestEvent()), "✅ **gitrepository/webapp.gitops-system**\nmessage\n>**test**: metadata\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	ev := notifytest.FluxTestEvent()
	ev.Severity = event.SeverityError
	ev.Metadata = map[string]string{"b": "2", "a": "1"}
	if got, want := webex.Markdown(ev), "💣 **gitrepository/webapp.gitops-system**\nmessage\n>**a**: 1\n>**b**: 2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// Without a token, "Bearer" is not a secret: errors keep their text.
func TestEmptyTokenErrorText(t *testing.T) {
	sink := notifytest.NewSink(t, notifytest.Status(401, "Bearer token required"))
	n, err := webex.New(notify.Config{Address: notify.Secret(sink.URL), Channel: roomID})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), notifytest.FluxTestEvent())
	if err == nil || err.Error() != "request failed with status code 401: Bearer token required" {
		t.Errorf("err = %v", err)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ address, want string }{
		{"", "invalid address: empty url"},
		{"webexapis.com/v1/messages", "invalid address: invalid URI for request"},
	}
	for _, tc := range tests {
		_, err := webex.New(notify.Config{Address: notify.Secret(tc.address), Token: "t"})
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q): err = %v, want %q", tc.address, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(webex.New, notify.Config{Channel: roomID, Token: "t"}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, webex.New, func(cfg *notify.Config) { cfg.Channel = roomID })
}
