package msteams

import (
	"cmp"
	"slices"

	"github.com/heraldhq/herald/pkg/event"
)

// ConnectorPayload is the Office 365 connector MessageCard Flux sends,
// fields in Flux's order.
type ConnectorPayload struct {
	Type       string    `json:"@type"`
	Context    string    `json:"@context"`
	ThemeColor string    `json:"themeColor"`
	Summary    string    `json:"summary"`
	Sections   []Section `json:"sections"`
}

// Section is the card's one section.
type Section struct {
	ActivityTitle    string `json:"activityTitle"`
	ActivitySubtitle string `json:"activitySubtitle"`
	Facts            []Fact `json:"facts"`
}

// Fact is one metadata entry.
type Fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewConnectorPayload builds Flux's MessageCard for ev.
func NewConnectorPayload(ev event.Event) ConnectorPayload {
	// Flux ranges over the metadata map, so its order is unspecified;
	// sorting by key makes Herald's requests reproducible. Never nil: Flux
	// sends "facts":[] when there is no metadata.
	facts := make([]Fact, 0, len(ev.Metadata))
	for k, v := range ev.Metadata {
		facts = append(facts, Fact{Name: k, Value: v})
	}
	slices.SortFunc(facts, func(a, b Fact) int { return cmp.Compare(a.Name, b.Name) })

	color := "0076D7"
	if ev.Severity == event.SeverityError {
		color = "FF0000"
	}
	objName := ev.ObjectName()
	return ConnectorPayload{
		Type:       "MessageCard",
		Context:    "http://schema.org/extensions",
		ThemeColor: color,
		Summary:    objName,
		Sections: []Section{{
			ActivityTitle:    ev.Message,
			ActivitySubtitle: objName,
			Facts:            facts,
		}},
	}
}
