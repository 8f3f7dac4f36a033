// Package googlechat posts Flux events to a Google Chat incoming webhook as
// a legacy "cards" message (Flux's internal/notifier/google_chat.go).
package googlechat

import (
	"cmp"
	"slices"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier posts Google Chat cards.
type Notifier = notify.Webhook[Payload]

// New builds a Google Chat notifier for the webhook address cfg.Address.
// The webhook's key and token are in its query, so the address is the
// secret; Google Chat takes no other credentials.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.NewWebhook(cfg, NewPayload)
}

// Payload is Flux's message: one card. Pointer fields that Flux never sets
// marshal as null, as in Flux.
type Payload struct {
	Cards []Card `json:"cards"`
}

// Card has a header and one or two sections.
type Card struct {
	Header   Header    `json:"header"`
	Sections []Section `json:"sections"`
}

// Header names the object and the reporting controller.
type Header struct {
	Title      string  `json:"title"`
	SubTitle   string  `json:"subtitle"`
	ImageURL   *string `json:"imageUrl"`
	ImageStyle *string `json:"imageStyle"`
}

// Section is the message, or the metadata.
type Section struct {
	Header  string   `json:"header"`
	Widgets []Widget `json:"widgets"`
}

// Widget holds either a text paragraph or a key/value pair.
type Widget struct {
	TextParagraph *TextParagraph `json:"textParagraph"`
	KeyValue      *KeyValue      `json:"keyValue"`
}

// TextParagraph is the message.
type TextParagraph struct {
	Text string `json:"text"`
}

// KeyValue is one metadata entry.
type KeyValue struct {
	TopLabel         string  `json:"topLabel"`
	Content          string  `json:"content"`
	ContentMultiline bool    `json:"contentMultiline"`
	BottomLabel      *string `json:"bottomLabel"`
	Icon             *string `json:"icon"`
}

// NewPayload builds Flux's card for ev. An error's message is wrapped in
// <font color="#ff0000">, one of the HTML tags Google Chat renders in card
// text (https://developers.google.com/workspace/chat/format-messages);
// encoding/json escapes its angle brackets, as in Flux.
func NewPayload(ev event.Event) Payload {
	text := ev.Message
	if ev.Severity == event.SeverityError {
		text = `<font color="#ff0000">` + ev.Message + `</font>`
	}
	sections := []Section{{Widgets: []Widget{{TextParagraph: &TextParagraph{Text: text}}}}}

	if len(ev.Metadata) > 0 {
		// Flux ranges over the metadata map, so its order is unspecified;
		// sorting by key makes Herald's requests reproducible.
		widgets := make([]Widget, 0, len(ev.Metadata))
		for k, v := range ev.Metadata {
			widgets = append(widgets, Widget{KeyValue: &KeyValue{TopLabel: k, Content: v}})
		}
		slices.SortFunc(widgets, func(a, b Widget) int { return cmp.Compare(a.KeyValue.TopLabel, b.KeyValue.TopLabel) })
		sections = append(sections, Section{Widgets: widgets})
	}

	return Payload{Cards: []Card{{
		Header:   Header{Title: ev.ObjectName(), SubTitle: ev.ReportingController},
		Sections: sections,
	}}}
}
