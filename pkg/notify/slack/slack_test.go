package slack_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/slack"
)

// referenceBody is the Slack example of the behaviour reference §4.2.
const referenceBody = `{"channel":"general","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{"fallback":"kustomization/podinfo.flux-system: Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","color":"good","author_name":"kustomization/podinfo.flux-system","text":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","short":false}]}]}`

func newNotifier(t *testing.T, cfg notify.Config) *slack.Notifier {
	t.Helper()
	return notifytest.New(t, slack.New, cfg)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		channel  string
		username string
		token    string
		severity string
		metadata bool
	}{
		{name: "webhook-info", channel: "general", severity: event.SeverityInfo, metadata: true},
		{name: "webhook-info-no-metadata", channel: "general", severity: event.SeverityInfo},
		{name: "webhook-error", channel: "general", severity: event.SeverityError, metadata: true},
		{name: "webhook-error-no-metadata", channel: "general", severity: event.SeverityError},
		// No channel still sends "channel":""; a token becomes a bearer.
		{name: "token-username-no-channel", username: "flux-bot", token: "xoxb-test-token", severity: event.SeverityInfo, metadata: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			n := newNotifier(t, notify.Config{
				Address:  notify.Secret(sink.URL + "/services/T000/B000/XXXX"),
				Channel:  tc.channel,
				Username: tc.username,
				Token:    notify.Secret(tc.token),
			})
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(tc.severity, tc.metadata)); err != nil {
				t.Fatal(err)
			}
			req := sink.Last(t)
			notifytest.AssertGolden(t, tc.name, req)
			if tc.token == "" && req.Header.Get("Authorization") != "" {
				t.Error("Authorization sent without a token")
			}
		})
	}
}

func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, notify.Config{Address: notify.Secret(sink.URL), Channel: "general"})
	if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
		t.Fatal(err)
	}
	if got := string(sink.Last(t).Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// Flux's slack_test.go, and the fallback's first line.
func TestPayload(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Message = "first line\nsecond line"
	p := slack.NewPayload(ev, "", "")
	a := p.Attachments[0]
	if a.AuthorName != "gitrepository/webapp.gitops-system" {
		t.Errorf("author_name = %s", a.AuthorName)
	}
	if len(a.Fields) != 1 || a.Fields[0] != (slack.Field{Title: "test", Value: "metadata"}) {
		t.Errorf("fields = %+v", a.Fields)
	}
	if a.Fallback != "gitrepository/webapp.gitops-system: first line" {
		t.Errorf("fallback = %q", a.Fallback)
	}
	if p.Username != "source-controller" {
		t.Errorf("username = %q, want the reporting controller", p.Username)
	}

	ev.Metadata = map[string]string{"b": "2", "a": "1", "c": "3"}
	fields := slack.NewPayload(ev, "", "").Attachments[0].Fields
	if fields[0].Title != "a" || fields[1].Title != "b" || fields[2].Title != "c" {
		t.Errorf("fields not sorted by title: %+v", fields)
	}
}

// Only at exactly the chat.postMessage address is Slack's "ok" checked, and
// then the HTTP status is not, except where the classifier retries.
func TestChatPostMessage(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		reply     string
		suffix    string // appended to the chat.postMessage address
		wantErr   string
		wantRetry bool
	}{
		{name: "ok", status: 200, reply: `{"ok":true,"channel":"C1"}`},
		{name: "ok false", status: 200, reply: `{"ok":false,"error":"channel_not_found"}`, wantErr: "Slack responded with error: channel_not_found"},
		{name: "ok false transient", status: 200, reply: `{"ok":false,"error":"service_unavailable"}`, wantErr: "Slack responded with error: service_unavailable", wantRetry: true},
		{name: "status not checked", status: 404, reply: `{"ok":true}`},
		{name: "retryable status first", status: 503, reply: `{"ok":true}`, wantErr: `request failed with status code 503: {"ok":true}`, wantRetry: true},
		{name: "not JSON", status: 200, reply: `<html>`, wantErr: "unable to unmarshal response body: invalid character '<' looking for beginning of value"},
		{name: "other address: any 2xx", status: 200, reply: `{"ok":false,"error":"x"}`, suffix: "?x=1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, notifytest.Status(tc.status, tc.reply, "Content-Type", "application/json"))
			api := sink.URL + "/api/chat.postMessage"
			n := newNotifier(t, notify.Config{Address: notify.Secret(api + tc.suffix), Channel: "C1", Token: "xoxb-1"})
			n.ChatPostMessageURL = api
			retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			} else if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if retry != tc.wantRetry {
				t.Errorf("retry = %v, want %v", retry, tc.wantRetry)
			}
			if got := sink.Last(t).Header.Get("Authorization"); got != "Bearer xoxb-1" {
				t.Errorf("Authorization = %q", got)
			}
		})
	}
}

func TestDefaultChatPostMessageURL(t *testing.T) {
	if got := newNotifier(t, notify.Config{Address: "https://hooks.slack.com/x"}).ChatPostMessageURL; got != "https://slack.com/api/chat.postMessage" {
		t.Errorf("ChatPostMessageURL = %s", got)
	}
}

func TestNewError(t *testing.T) {
	_, err := slack.New(notify.Config{Address: "hooks.slack.com/services/T0/B0/" + notifytest.LeakPathToken})
	if err == nil || err.Error() != "invalid address: invalid URI for request" {
		t.Fatalf("err = %v", err)
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		return newNotifier(t, notify.Config{Address: notify.Secret(address), Token: "xoxb-1"})
	})
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, slack.New)
	// The chat.postMessage path must not leak either.
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
		n, err := slack.New(cfg)
		if err == nil {
			n.ChatPostMessageURL = cfg.Address.Reveal()
		}
		return n, err
	})
}

// The payload marshals with Flux's key order.
func TestPayloadKeyOrder(t *testing.T) {
	b, err := json.Marshal(slack.NewPayload(notifytest.ReferenceEvent(event.SeverityInfo, false), "", ""))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"channel":"","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{"fallback":"kustomization/podinfo.flux-system: Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","color":"good","author_name":"kustomization/podinfo.flux-system","text":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","mrkdwn_in":["text"],"fields":[]}]}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
