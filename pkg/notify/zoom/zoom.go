// Package zoom posts Flux events to a Zoom Team Chat incoming webhook
// (Flux's internal/notifier/zoom.go; the rich "full" message format is
// described at https://developers.zoom.us/docs/team-chat/webhooks/).
package zoom

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier posts Zoom rich messages.
type Notifier struct {
	ep notify.Endpoint
	// auth carries the verification token raw, without a scheme: that is
	// what the incoming webhook expects in Authorization.
	auth map[string]notify.Secret
}

// New builds a Zoom notifier. cfg.Address is the incoming webhook URL and
// cfg.Token its verification token, which is required.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid Zoom incoming webhook URL: %w", err)
	}
	if cfg.Token == "" {
		return nil, errors.New("empty Zoom verification token")
	}
	// NewEndpoint has accepted it; Flux parses with ParseRequestURI too, so
	// the same address gives the same request URL.
	u, _ := url.ParseRequestURI(ep.Address)
	// Ask for the rich format unless the URL pins one. As in Flux, an empty
	// format counts as none, and only then is the query re-encoded (which
	// sorts it).
	if q := u.Query(); q.Get("format") == "" {
		q.Set("format", "full")
		u.RawQuery = q.Encode()
	}
	ep.Address = u.String()
	return &Notifier{
		ep:   ep,
		auth: map[string]notify.Secret{"Authorization": cfg.Token},
	}, nil
}

// Payload is Zoom's rich message, fields in Flux's order.
type Payload struct {
	Content Content `json:"content"`
}

// Content is the message's head and body.
type Content struct {
	Head Head       `json:"head"`
	Body []BodyItem `json:"body"`
}

// Head is the message's title, with the severity beneath it.
type Head struct {
	Text    string   `json:"text"`
	SubHead *SubHead `json:"sub_head,omitempty"`
}

// SubHead is the line under the title.
type SubHead struct {
	Text string `json:"text"`
}

// BodyItem is a "message" or a "fields" element.
type BodyItem struct {
	Type  string  `json:"type"`
	Text  string  `json:"text,omitempty"`
	Items []Field `json:"items,omitempty"`
}

// Field is one metadata entry.
type Field struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// NewPayload builds Flux's Zoom message for ev: the message, then the
// metadata sorted by key (Flux sorts too), only when there is any.
func NewPayload(ev event.Event) Payload {
	body := []BodyItem{{Type: "message", Text: ev.Message}}
	if len(ev.Metadata) > 0 {
		fields := make([]Field, 0, len(ev.Metadata))
		for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
			fields = append(fields, Field{Key: k, Value: ev.Metadata[k]})
		}
		body = append(body, BodyItem{Type: "fields", Items: fields})
	}
	return Payload{Content: Content{
		Head: Head{Text: ev.ObjectName(), SubHead: &SubHead{Text: ev.Severity}},
		Body: body,
	}}
}

// Notify posts ev with the raw token as Authorization.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return notify.Outcome(n.ep.PostJSON(ctx, NewPayload(ev),
		notify.WithHeaders(n.auth)))
}
