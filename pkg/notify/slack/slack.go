// Package slack posts Flux events to Slack, through an incoming webhook or
// the chat.postMessage API with a bot token (Flux's
// internal/notifier/slack.go).
package slack

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// ChatPostMessageURL is the address at which Flux checks Slack's reply body.
const ChatPostMessageURL = "https://slack.com/api/chat.postMessage"

// Notifier posts Slack attachments.
type Notifier struct {
	// ChatPostMessageURL is the address treated as chat.postMessage: only
	// when the address equals it exactly is the reply's "ok" checked, as in
	// Flux. New sets ChatPostMessageURL; tests point it at their server.
	ChatPostMessageURL string

	ep       notify.Endpoint
	token    notify.Secret
	channel  string
	username string
}

// New builds a Slack notifier. cfg.Address is the webhook or
// chat.postMessage URL; cfg.Token, when set, is sent as a bearer token.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		return &Notifier{
			ChatPostMessageURL: ChatPostMessageURL,
			ep:                 ep,
			token:              cfg.Token,
			channel:            cfg.Channel,
			username:           cfg.Username,
		}
	})
}

// Payload is Slack's message body, fields in Flux's order.
type Payload struct {
	Channel     string       `json:"channel"`
	Username    string       `json:"username"`
	IconURL     string       `json:"icon_url"`
	IconEmoji   string       `json:"icon_emoji"`
	Attachments []Attachment `json:"attachments,omitempty"`
}

// Attachment is the one attachment Flux sends.
type Attachment struct {
	Fallback   string   `json:"fallback"`
	Color      string   `json:"color"`
	AuthorName string   `json:"author_name"`
	Text       string   `json:"text"`
	MrkdwnIn   []string `json:"mrkdwn_in"`
	Fields     []Field  `json:"fields"`
}

// Field is one metadata entry.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// NewPayload builds Flux's Slack message for ev.
func NewPayload(ev event.Event, channel, username string) Payload {
	if username == "" {
		username = ev.ReportingController
	}
	color := "good"
	if ev.Severity == event.SeverityError {
		color = "danger"
	}
	// Flux ranges over the metadata map, so its order is unspecified;
	// sorting makes Herald's requests reproducible. Never nil: Flux sends
	// "fields":[] when there is no metadata.
	fields := make([]Field, 0, len(ev.Metadata))
	for k, v := range ev.Metadata {
		fields = append(fields, Field{Title: k, Value: v})
	}
	slices.SortFunc(fields, func(a, b Field) int { return cmp.Compare(a.Title, b.Title) })

	objName := ev.ObjectName()
	firstLine, _, _ := strings.Cut(ev.Message, "\n")
	return Payload{
		Channel:  channel,
		Username: username,
		Attachments: []Attachment{{
			Fallback:   objName + ": " + firstLine,
			Color:      color,
			AuthorName: objName,
			Text:       ev.Message,
			MrkdwnIn:   []string{"text"},
			Fields:     fields,
		}},
	}
}

// Notify posts ev. A bearer token is added only when the config has one.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	opts := []notify.PostOption{notify.WithBearer(n.token)}
	if n.ep.Address == n.ChatPostMessageURL {
		opts = append(opts, notify.WithResponseValidator(validateChatResponse))
	}
	return notify.Outcome(n.ep.PostJSON(ctx, NewPayload(ev, n.channel, n.username), opts...))
}

// transientErrors are chat.postMessage errors that Slack documents as
// temporary (https://api.slack.com/methods/chat.postMessage#errors):
// "ratelimited" usually comes with a 429, which the shared classifier
// retries first; the others mean the fault is on Slack's side.
var transientErrors = map[string]bool{
	"ratelimited":         true,
	"service_unavailable": true,
	"internal_error":      true,
}

// validateChatResponse checks the API's reply, which is HTTP 200 with
// "ok": false on failure. As in Flux, the status is not checked here.
func validateChatResponse(_ int, body []byte) error {
	var reply struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if err := json.Unmarshal(body, &reply); err != nil {
		return fmt.Errorf("unable to unmarshal response body: %w", err)
	}
	if reply.OK {
		return nil
	}
	//lint:ignore ST1005 Flux's exact text, which users may match on.
	err := fmt.Errorf("Slack responded with error: %s", reply.Error)
	if transientErrors[reply.Error] {
		return notify.Retryable(err)
	}
	return err
}
