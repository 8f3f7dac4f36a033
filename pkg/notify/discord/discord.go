// Package discord posts Flux events to a Discord webhook through its
// Slack-compatible endpoint (Flux's internal/notifier/discord.go; Discord's
// https://discord.com/developers/docs/resources/webhook#execute-slackcompatible-webhook).
package discord

import (
	"context"
	"net/url"
	"path"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/slack"
)

// Notifier posts Slack attachments to Discord's /slack endpoint.
type Notifier struct {
	ep       notify.Endpoint
	username string
}

// New builds a Discord notifier. cfg.Address is the webhook URL, to which
// "/slack" is appended as Flux does; cfg.Channel is ignored, as in Flux.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		ep.Address = slackURL(ep.Address)
		return &Notifier{ep: ep, username: cfg.Username}
	})
}

// slackURL is Flux's rewrite of a webhook URL to Discord's Slack-compatible
// endpoint: unless the raw string already ends with "/slack", the path gets
// the segment "slack" by path.Join, which also cleans the path, and the query
// is kept. Flux checks the raw string, not the path, so an address such as
// ".../slack?wait=true" becomes ".../slack/slack?wait=true"; Herald keeps
// that, so both send to the same place.
func slackURL(raw string) string {
	if strings.HasSuffix(raw, "/slack") {
		return raw
	}
	// NewEndpoint has accepted raw with the same parser, so err is nil.
	u, _ := url.ParseRequestURI(raw)
	u.Path = path.Join(u.Path, "slack")
	return u.String()
}

// NewPayload is Flux's Discord message: the Slack one with "channel" and
// "fallback" always empty, and the reporting controller as the default
// username.
func NewPayload(ev event.Event, username string) slack.Payload {
	p := slack.NewPayload(ev, "", username)
	p.Attachments[0].Fallback = ""
	return p
}

// Notify posts ev.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return notify.Outcome(n.ep.PostJSON(ctx, NewPayload(ev, n.username)))
}
