// Package zulip posts Flux events to a Zulip stream topic through the
// send-message API (Flux's internal/notifier/zulip.go;
// https://zulip.com/api/send-message).
package zulip

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// MessagesPath replaces the address's path, as in Flux: the address names
// the Zulip server, whatever path it was given with.
const MessagesPath = "/api/v1/messages"

// Notifier posts form-encoded stream messages.
type Notifier struct {
	ep       notify.Endpoint
	stream   string
	topic    string
	username string
	password notify.Secret
}

// New builds a Zulip notifier. cfg.Address is the server URL, cfg.Channel
// is "<stream>/<topic>", and the secret's username and password (the bot's
// email and API key) are sent as basic auth.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid Zulip endpoint URL: %w", err)
	}
	// Flux parses with url.Parse. NewEndpoint's ParseRequestURI also
	// accepts "/path" and "scheme:opaque", which name no server: refuse
	// them here rather than fail every delivery, as Flux would.
	u, err := url.Parse(ep.Address)
	if err != nil || u.Host == "" {
		return nil, errors.New("invalid Zulip endpoint URL: it needs a scheme and a host")
	}
	u.Path, u.RawPath = MessagesPath, ""

	// Split at the first "/": a topic may contain slashes, a stream not.
	stream, topic, ok := strings.Cut(cfg.Channel, "/")
	if !ok || stream == "" || topic == "" {
		return nil, fmt.Errorf("invalid Zulip channel format, expected <channel>/<topic>, got '%s'", cfg.Channel)
	}

	ep.Address = u.String()
	return &Notifier{
		ep:       ep,
		stream:   stream,
		topic:    topic,
		username: cfg.Username,
		password: cfg.Password,
	}, nil
}

// NewForm builds Flux's form for ev. url.Values.Encode sorts the keys, so
// the body reads content=…&to=…&topic=…&type=stream, as Flux's does.
func NewForm(ev event.Event, stream, topic string) url.Values {
	return url.Values{
		"type":    {"stream"},
		"to":      {stream},
		"topic":   {topic},
		"content": {notify.MarkdownPost(ev)},
	}
}

// Notify posts ev as the shared Markdown post. Basic auth is added only
// when the username or password is set, as Flux's poster does.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	body := []byte(NewForm(ev, n.stream, n.topic).Encode())
	return notify.Outcome(n.ep.Send(ctx, http.MethodPost, body,
		notify.WithContentType("application/x-www-form-urlencoded"),
		notify.WithBasicAuth(n.username, n.password),
	))
}
