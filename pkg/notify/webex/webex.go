// Package webex posts Flux events to a Webex room through the Messages API
// with a bot token (Flux's internal/notifier/webex.go; Webex's
// https://developer.webex.com/docs/api/v1/messages/create-a-message).
package webex

import (
	"context"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier posts Markdown messages to one room.
type Notifier struct {
	ep     notify.Endpoint
	roomID string
	// auth sets the Authorization header.
	auth notify.PostOption
}

// New builds a Webex notifier. cfg.Address is the Messages API URL
// (https://webexapis.com/v1/messages), cfg.Channel the room ID and
// cfg.Token the bot's access token.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	// Flux sends the header even without a token; Go trims the value on
	// the wire, so it arrives as "Bearer". With a token it is a secret
	// header, masked out of errors however a server echoes it; without
	// one, masking the bare "Bearer" would only garble error texts.
	auth := notify.WithHeader("Authorization", "Bearer ")
	if cfg.Token != "" {
		auth = notify.WithHeaders(map[string]notify.Secret{"Authorization": "Bearer " + cfg.Token})
	}
	return &Notifier{
		ep:     ep,
		roomID: cfg.Channel,
		auth:   auth,
	}, nil
}

// Payload is Flux's message body; empty fields are omitted.
type Payload struct {
	RoomID   string `json:"roomId,omitempty"`
	Markdown string `json:"markdown,omitempty"`
}

// Markdown is Flux's message: an emoji and the object in bold, the event
// message, then one quoted line per metadata entry.
func Markdown(ev event.Event) string {
	emoji := "✅"
	if ev.Severity == event.SeverityError {
		emoji = "💣"
	}
	var b strings.Builder
	b.WriteString(emoji + " **" + ev.ObjectName() + "**\n")
	b.WriteString(ev.Message + "\n")
	// Flux ranges over the metadata map, so its order is unspecified;
	// sorting by key makes Herald's requests reproducible.
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(">**" + k + "**: " + ev.Metadata[k] + "\n")
	}
	return b.String()
}

// Notify posts ev to the room.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	p := Payload{RoomID: n.roomID, Markdown: Markdown(ev)}
	return notify.Outcome(n.ep.PostJSON(ctx, p,
		n.auth))
}
