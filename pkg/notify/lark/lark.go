// Package lark posts Flux events to a Lark (Feishu) custom bot webhook as an
// interactive card (Flux's internal/notifier/lark.go; the card format is
// https://open.larksuite.com/document/client-docs/bot-v3/add-custom-bot).
package lark

import (
	"maps"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier posts interactive cards to one webhook. Any 2xx is success, as
// in Flux, which does not read Lark's reply body.
type Notifier = notify.Webhook[Payload]

// New builds a Lark notifier for the webhook cfg.Address. Flux uses neither
// a proxy nor certSecretRef for lark (behaviour reference §6); notify.Resolve
// leaves both out of cfg.HTTPClient for this type, so Herald does the same.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.NewWebhook(cfg, NewPayload)
}

// Payload is Lark's message body, fields in Flux's order.
type Payload struct {
	MsgType string `json:"msg_type"`
	Card    Card   `json:"card"`
}

// Card is the interactive card.
type Card struct {
	Config   Config    `json:"config"`
	Header   Header    `json:"header"`
	Elements []Element `json:"elements"`
}

// Config is the card's display config.
type Config struct {
	WideScreenMode bool `json:"wide_screen_mode"`
}

// Header is the card's title bar.
type Header struct {
	Title    Text   `json:"title"`
	Template string `json:"template"`
}

// Element is one block of the card body.
type Element struct {
	Tag  string `json:"tag"`
	Text Text   `json:"text"`
}

// Text is a tagged text: plain_text or lark_md.
type Text struct {
	Tag     string `json:"tag"`
	Content string `json:"content"`
}

// NewPayload builds Flux's card: the object in the header, turquoise or red,
// and one lark_md block with the message in bold and a "k: v" line per
// metadata entry.
func NewPayload(ev event.Event) Payload {
	emoji, color := "💫", "turquoise"
	if ev.Severity == event.SeverityError {
		emoji, color = "🚨", "red"
	}
	var b strings.Builder
	b.WriteString("**" + ev.Message + "**\n\n")
	// Flux ranges over the metadata map, in no set order; sorted here so
	// that Herald's requests are reproducible.
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		b.WriteString(k + ": " + ev.Metadata[k] + "\n")
	}
	return Payload{
		MsgType: "interactive",
		Card: Card{
			Config: Config{WideScreenMode: true},
			Header: Header{
				Title:    Text{Tag: "plain_text", Content: emoji + " " + ev.ObjectName()},
				Template: color,
			},
			Elements: []Element{{Tag: "div", Text: Text{Tag: "lark_md", Content: b.String()}}},
		},
	}
}
