package rocket_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/rocket"
)

// referenceBody is the Slack example of the behaviour reference §4.2 with
// the rocket differences it lists: no fallback, colour #0076D7, and the
// username as configured.
const referenceBody = `{"channel":"general","username":"flux","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"#0076D7","author_name":"kustomization/podinfo.flux-system","text":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","mrkdwn_in":["text"],"fields":[{"title":"revision","value":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","short":false}]}]}`

func notifyOnce(t *testing.T, cfg notify.Config, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	cfg.Address = notify.Secret(sink.URL + "/hooks/abc/def")
	n := notifytest.New(t, rocket.New, cfg)
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		channel  string
		username string
		severity string
		metadata bool
	}{
		{name: "info", channel: "general", username: "flux", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", channel: "general", username: "flux", severity: event.SeverityInfo},
		{name: "error", channel: "general", username: "flux", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", channel: "general", username: "flux", severity: event.SeverityError},
		// Unlike Slack and Discord, no username default: "" is sent.
		{name: "no-channel-no-username", severity: event.SeverityInfo, metadata: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := notifyOnce(t, notify.Config{Channel: tc.channel, Username: tc.username},
				notifytest.ReferenceEvent(tc.severity, tc.metadata))
			notifytest.AssertGolden(t, tc.name, req)
		})
	}
}

func TestReferenceBody(t *testing.T) {
	req := notifyOnce(t, notify.Config{Channel: "general", Username: "flux"}, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := string(req.Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// Flux's rocket_test.go: author and field, with and without channel and user.
func TestFluxVector(t *testing.T) {
	tests := []struct{ channel, username, want string }{
		{"test", "test", `{"channel":"test","username":"test","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"#0076D7","author_name":"gitrepository/webapp.gitops-system","text":"message","mrkdwn_in":["text"],"fields":[{"title":"test","value":"metadata","short":false}]}]}`},
		{"", "", `{"channel":"","username":"","icon_url":"","icon_emoji":"","attachments":[{"fallback":"","color":"#0076D7","author_name":"gitrepository/webapp.gitops-system","text":"message","mrkdwn_in":["text"],"fields":[{"title":"test","value":"metadata","short":false}]}]}`},
	}
	for _, tc := range tests {
		req := notifyOnce(t, notify.Config{Channel: tc.channel, Username: tc.username}, notifytest.FluxTestEvent())
		if string(req.Body) != tc.want {
			t.Errorf("got  %s\nwant %s", req.Body, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ address, want string }{
		{"", "invalid address: empty url"},
		{"chat.example.com/hooks/" + notifytest.LeakPathToken, "invalid address: invalid URI for request"},
	}
	for _, tc := range tests {
		_, err := rocket.New(notify.Config{Address: notify.Secret(tc.address)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q): err = %v, want %q", tc.address, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(rocket.New, notify.Config{Channel: "general"}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, rocket.New)
}
