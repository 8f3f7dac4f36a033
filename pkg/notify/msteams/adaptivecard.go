package msteams

import (
	"cmp"
	"slices"

	"github.com/heraldhq/herald/pkg/event"
)

// adaptiveCardVersion is the newest schema Teams renders, as Flux notes.
const adaptiveCardVersion = "1.4"

// AdaptiveCardMessage is the message Flux posts to a Workflows webhook
// (https://learn.microsoft.com/en-us/microsoftteams/platform/webhooks-and-connectors/how-to/connectors-using#send-adaptive-cards-using-an-incoming-webhook).
type AdaptiveCardMessage struct {
	Type        string                `json:"type"`
	Attachments []AdaptiveCardWrapper `json:"attachments"`
}

// AdaptiveCardWrapper is the attachment holding the card.
type AdaptiveCardWrapper struct {
	ContentType string       `json:"contentType"`
	Content     AdaptiveCard `json:"content"`
}

// AdaptiveCard is the card itself.
type AdaptiveCard struct {
	Schema  string          `json:"$schema"`
	Type    string          `json:"type"`
	Version string          `json:"version"`
	Body    []Element       `json:"body"`
	MSTeams MSTeamsSettings `json:"msteams"`
}

// MSTeamsSettings are Teams' extensions to the card.
type MSTeamsSettings struct {
	Width string `json:"width,omitempty"`
}

// Element is a Container, TextBlock or FactSet. Flux embeds one struct per
// kind into its element, and encoding/json promotes their fields in this
// order; one flat struct with the same tags marshals to the same bytes.
type Element struct {
	Type   string        `json:"type"`
	Items  []Element     `json:"items,omitempty"`
	Text   string        `json:"text,omitempty"`
	Size   string        `json:"size,omitempty"`
	Weight string        `json:"weight,omitempty"`
	Color  string        `json:"color,omitempty"`
	Wrap   bool          `json:"wrap,omitempty"`
	Facts  []FactSetFact `json:"facts,omitempty"`
}

// FactSetFact is one metadata entry of the FactSet.
type FactSetFact struct {
	Title string `json:"title"`
	Value string `json:"value"`
}

// summaryKey is the metadata entry Flux lists first.
const summaryKey = "summary"

// NewAdaptiveCardPayload builds Flux's Adaptive Card for ev: the object,
// the message (coloured "attention" for errors) and a FactSet with
// "summary" first and the other metadata sorted by key. Without metadata
// the FactSet has no "facts" key.
func NewAdaptiveCardPayload(ev event.Event) AdaptiveCardMessage {
	message := Element{Type: "TextBlock", Text: ev.Message, Wrap: true}
	if ev.Severity == event.SeverityError {
		message.Color = "attention"
	}

	facts := make([]FactSetFact, 0, len(ev.Metadata))
	if v, ok := ev.Metadata[summaryKey]; ok {
		facts = append(facts, FactSetFact{Title: summaryKey, Value: v})
	}
	first := len(facts)
	for k, v := range ev.Metadata {
		if k != summaryKey {
			facts = append(facts, FactSetFact{Title: k, Value: v})
		}
	}
	slices.SortFunc(facts[first:], func(a, b FactSetFact) int { return cmp.Compare(a.Title, b.Title) })

	return AdaptiveCardMessage{
		Type: "message",
		Attachments: []AdaptiveCardWrapper{{
			ContentType: "application/vnd.microsoft.card.adaptive",
			Content: AdaptiveCard{
				Schema:  "http://adaptivecards.io/schemas/adaptive-card.json",
				Type:    "AdaptiveCard",
				Version: adaptiveCardVersion,
				Body: []Element{{
					Type: "Container",
					Items: []Element{
						{Type: "TextBlock", Text: ev.ObjectName(), Size: "large", Weight: "bolder", Wrap: true},
						message,
						{Type: "FactSet", Facts: facts},
					},
				}},
				MSTeams: MSTeamsSettings{Width: "Full"},
			},
		}},
	}
}
