// Package telegram posts Flux events to a Telegram chat through the Bot
// API's sendMessage method (Flux's internal/notifier/telegram.go; Telegram's
// https://core.telegram.org/bots/api#sendmessage). The bot token is part of
// the URL path, so the URL is as secret as the token.
package telegram

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// DefaultAPIURL is the Bot API server Flux always uses; like Flux, Herald
// ignores the Provider's address for telegram.
const DefaultAPIURL = "https://api.telegram.org"

// Notifier sends MarkdownV2 messages to one chat, or one forum topic.
type Notifier struct {
	// APIURL is the Bot API server. New sets DefaultAPIURL; tests point it
	// at their server.
	APIURL string

	token     notify.Secret
	chatID    string
	threadID  string
	hasThread bool
	ep        notify.Endpoint
}

// New builds a Telegram notifier. cfg.Channel is the chat ID, optionally
// followed by ":" and a message thread (topic) ID; cfg.Token is the bot
// token. Both are required, with Flux's error texts.
func New(cfg notify.Config) (*Notifier, error) {
	if cfg.Channel == "" {
		return nil, errors.New("empty Telegram channel")
	}
	if cfg.Token == "" {
		return nil, errors.New("empty Telegram token")
	}
	// Flux builds the URL on every post and fails there; a token that can
	// never make a URL is a config error, so Herald reports it here.
	if _, err := sendMessageURL(DefaultAPIURL, cfg.Token); err != nil {
		return nil, err
	}
	chatID, threadID, hasThread := strings.Cut(cfg.Channel, ":")
	return &Notifier{
		APIURL:    DefaultAPIURL,
		token:     cfg.Token,
		chatID:    chatID,
		threadID:  threadID,
		hasThread: hasThread,
		ep:        notify.Endpoint{Client: cfg.Client(), Secrets: cfg.SecretValues()},
	}, nil
}

// sendMessageURL is Flux's "<api>/bot<token>" joined with "sendMessage" by
// url.JoinPath, the token used raw. The error names neither URL nor token.
func sendMessageURL(api string, token notify.Secret) (string, error) {
	u, err := url.JoinPath(api+"/bot"+token.Reveal(), "sendMessage")
	if err != nil {
		return "", notify.Permanent(errors.New("failed to construct API URL: the token does not form a valid URL"))
	}
	return u, nil
}

// Payload is the sendMessage request, fields in Flux's order.
type Payload struct {
	ChatID          string `json:"chat_id"`
	MessageThreadID string `json:"message_thread_id,omitempty"`
	Text            string `json:"text"`
	ParseMode       string `json:"parse_mode"`
}

// Text is Flux's message: a bold heading with an emoji and
// kind/name/namespace (a "/" before the namespace, unlike other
// providers), the event message, then one list line per metadata entry.
func Text(ev event.Event) string {
	emoji := "💫"
	if ev.Severity == event.SeverityError {
		emoji = "🚨"
	}
	o := ev.InvolvedObject
	heading := emoji + " " + strings.ToLower(o.Kind) + "/" + o.Name + "/" + o.Namespace
	var b strings.Builder
	b.WriteString("*" + Escape(heading) + "*\n" + Escape(ev.Message) + "\n")
	// Flux ranges over the metadata map, so its order is unspecified;
	// sorting by key makes Herald's requests reproducible.
	keys := make([]string, 0, len(ev.Metadata))
	for k := range ev.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString(`\- *` + Escape(k) + "*: " + Escape(ev.Metadata[k]) + "\n")
	}
	return b.String()
}

// escaped are the characters MarkdownV2 reserves
// (https://core.telegram.org/bots/api#markdownv2-style), backslash
// included, in the order of Flux's escapeString.
const escaped = "\\.-_[]()~>`#+=|{}!*"

// Escape puts a backslash before each character of escaped. Flux inserts
// them in one pass per character, backslash first; since no later pass
// looks for a backslash, that equals this single pass. It works on bytes,
// as Flux does: all the characters are ASCII, which never occurs inside a
// multi-byte UTF-8 sequence, and invalid UTF-8 is left for encoding/json
// to replace exactly as it does in Flux.
func Escape(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(escaped, s[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Notify sends ev.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	address, err := sendMessageURL(n.APIURL, n.token)
	if err != nil {
		return false, err
	}
	p := Payload{ChatID: n.chatID, Text: Text(ev), ParseMode: "MarkdownV2"}
	if n.hasThread {
		p.MessageThreadID = n.threadID
	}
	return notify.Outcome(n.ep.At(address).PostJSON(ctx, p))
}
