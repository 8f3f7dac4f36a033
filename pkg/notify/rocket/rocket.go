// Package rocket posts Flux events to a Rocket.Chat incoming webhook, which
// accepts Slack's message shape (Flux's internal/notifier/rocket.go).
package rocket

import (
	"context"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/slack"
)

// Colours Flux gives the attachment, instead of Slack's "good" and "danger".
const (
	ColorInfo  = "#0076D7"
	ColorError = "#FF0000"
)

// Notifier posts Slack-shaped attachments to Rocket.Chat.
type Notifier struct {
	ep       notify.Endpoint
	channel  string
	username string
}

// New builds a Rocket.Chat notifier. cfg.Address is the webhook URL;
// cfg.Channel and cfg.Username are sent as given.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		return &Notifier{
			ep:       ep,
			channel:  cfg.Channel,
			username: cfg.Username,
		}
	})
}

// NewPayload is Flux's Rocket.Chat message: the Slack one with an empty
// fallback, Rocket colours, and the username as given, even when empty,
// since Flux's rocket.go does not default it to the reporting controller.
func NewPayload(ev event.Event, channel, username string) slack.Payload {
	p := slack.NewPayload(ev, channel, username)
	p.Username = username
	a := &p.Attachments[0]
	a.Fallback = ""
	a.Color = ColorInfo
	if ev.Severity == event.SeverityError {
		a.Color = ColorError
	}
	return p
}

// Notify posts ev.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	p := NewPayload(ev, n.channel, n.username)
	return notify.Outcome(n.ep.PostJSON(ctx, p))
}
