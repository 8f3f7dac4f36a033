// Package mastodon posts Flux events as statuses on a Mastodon account
// (Flux's internal/notifier/mastodon.go, new in notification-controller
// v1.10.0; Mastodon's https://docs.joinmastodon.org/methods/statuses/#create).
// The behaviour reference §4.2 "mastodon" has the exact request.
package mastodon

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// StatusesPath is the endpoint that publishes a status. It is appended to
// the address unless the address already ends with it.
const StatusesPath = "/api/v1/statuses"

// MaxChars is the status length Flux cuts at, in characters: the default
// limit of a Mastodon server, which refuses longer statuses.
const MaxChars = 500

// Notifier posts statuses as the account that owns the access token.
type Notifier struct {
	ep         notify.Endpoint
	token      notify.Secret
	visibility string
}

// New builds a Mastodon notifier. cfg.Address is the server's URL (or its
// statuses endpoint); a visibility query parameter (public, unlisted,
// private, direct) is taken out of it and sent in the body, and the rest
// of the query is kept. cfg.Token is the application's access token.
func New(cfg notify.Config) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, fmt.Errorf("invalid Mastodon server URL: %w", err)
	}
	if cfg.Token == "" {
		return nil, errors.New("empty Mastodon access token")
	}
	// Flux parses the address with url.ParseRequestURI, which NewEndpoint
	// has just done successfully.
	u, err := url.ParseRequestURI(ep.Address)
	if err != nil {
		return nil, errors.New("invalid Mastodon server URL")
	}
	// Flux re-encodes the query whether or not it had a visibility: the
	// parameters come out sorted and escaped by url.Values.
	q := u.Query()
	visibility := q.Get("visibility")
	q.Del("visibility")
	u.RawQuery = q.Encode()
	if path := strings.TrimSuffix(u.Path, "/"); !strings.HasSuffix(path, StatusesPath) {
		u.Path = path + StatusesPath
	}
	ep.Address = u.String()
	return &Notifier{ep: ep, token: cfg.Token, visibility: visibility}, nil
}

// Payload is the JSON body of the statuses endpoint as Flux sends it.
type Payload struct {
	Status     string `json:"status"`
	Visibility string `json:"visibility,omitempty"`
}

// Status is Flux's text for ev: an emoji and the object, the message, a
// blank line and one "k: v" line per metadata entry, sorted by key; then
// trimmed of surrounding white space and cut to MaxChars characters, the
// last of them an ellipsis.
func Status(ev event.Event) string {
	emoji := "💫"
	if ev.Severity == event.SeverityError {
		emoji = "🚨"
	}
	var b strings.Builder
	b.WriteString(emoji + " " + ev.ObjectName() + "\n" + ev.Message + "\n\n")
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		b.WriteString(k + ": " + ev.Metadata[k] + "\n")
	}
	status := strings.TrimSpace(b.String())
	if runes := []rune(status); len(runes) > MaxChars {
		status = string(runes[:MaxChars-1]) + "…"
	}
	return status
}

// IdempotencyKey is Flux's Idempotency-Key for ev and its status: the
// lowercase hex SHA-256 of "<uid>/<reason>/<timestamp>/<status>", the
// timestamp in Go's time.Time.String form in UTC. Mastodon keeps a key for
// an hour and answers a repeated post with the status it already made, so
// Herald's retries within that hour post once.
func IdempotencyKey(ev event.Event, status string) string {
	sum := sha256.Sum256([]byte(ev.InvolvedObject.UID + "/" + ev.Reason + "/" +
		ev.Timestamp.UTC().String() + "/" + status))
	return hex.EncodeToString(sum[:])
}

// Notify posts ev as one status.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	status := Status(ev)
	return notify.Outcome(n.ep.PostJSON(ctx, Payload{Status: status, Visibility: n.visibility},
		notify.WithHeaders(map[string]notify.Secret{"Authorization": "Bearer " + n.token}),
		notify.WithHeader("Idempotency-Key", IdempotencyKey(ev, status)),
	))
}
