package discord_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/discord"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is the Slack example of the behaviour reference §4.2 with
// the discord differences it lists: channel and fallback always empty.
const referenceBody = `{"channel":"","username":"kustomize-controller","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"good","author_name":"kustomization/podinfo.flux-system","text":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","short":false}]}]}`

func notifyOnce(t *testing.T, cfg notify.Config, ev event.Event) {
	t.Helper()
	n, err := discord.New(cfg)
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
		username string
		channel  string
		severity string
		metadata bool
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
		// The username replaces the controller; the channel is never sent.
		{name: "username-channel-ignored", username: "flux-bot", channel: "general", severity: event.SeverityInfo, metadata: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			cfg := notify.Config{
				Address:  notify.Secret(sink.URL + "/api/webhooks/1234/abcd"),
				Username: tc.username,
				Channel:  tc.channel,
			}
			notifyOnce(t, cfg, notifytest.ReferenceEvent(tc.severity, tc.metadata))
			notifytest.AssertGolden(t, tc.name, sink.Last(t))
		})
	}
}

func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL), Channel: "general"},
		notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := string(sink.Last(t).Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// Flux's discord_test.go: the URL ends with /slack, author and field.
func TestFluxVector(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL), Username: "test", Channel: "test"}, notifytest.FluxTestEvent())
	req := sink.Last(t)
	const want = `{"channel":"","username":"test","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"good","author_name":"gitrepository/webapp.gitops-system","text":"message","mrkdwn_in":["text"],"fields":[{"title":"test","value":"metadata","short":false}]}]}`
	if req.URI != "/slack" || string(req.Body) != want {
		t.Errorf("got %s %s\nwant /slack %s", req.URI, req.Body, want)
	}
}

// The address rewrite of Flux's NewDiscord, quirks included.
func TestSlackURL(t *testing.T) {
	tests := []struct{ path, want string }{
		{"", "/slack"},
		{"/", "/slack"},
		{"/api/webhooks/1/tok", "/api/webhooks/1/tok/slack"},
		{"/api/webhooks/1/tok/", "/api/webhooks/1/tok/slack"},
		{"/api/webhooks/1/tok/slack", "/api/webhooks/1/tok/slack"},
		{"/api/webhooks/1/tok?wait=true", "/api/webhooks/1/tok/slack?wait=true"},
		// path.Join cleans the path.
		{"/api//webhooks/x/../1/tok", "/api/webhooks/1/tok/slack"},
		// Flux tests the raw string for the suffix, so a query hides it.
		{"/api/webhooks/1/tok/slack?wait=true", "/api/webhooks/1/tok/slack/slack?wait=true"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			notifyOnce(t, notify.Config{Address: notify.Secret(sink.URL + tc.path)}, notifytest.FluxTestEvent())
			if got := sink.Last(t).URI; got != tc.want {
				t.Errorf("request URI = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ address, want string }{
		{"", "invalid address: empty url"},
		{"discord.com/api/webhooks/1/" + notifytest.LeakPathToken, "invalid address: invalid URI for request"},
	}
	for _, tc := range tests {
		_, err := discord.New(notify.Config{Address: notify.Secret(tc.address)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q): err = %v, want %q", tc.address, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(discord.New, notify.Config{}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, discord.New)
}
