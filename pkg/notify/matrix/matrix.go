// Package matrix sends Flux events to a Matrix room through the client-server
// API (Flux's internal/notifier/matrix.go): PUT
// <address>/_matrix/client/r0/rooms/<room>/send/m.room.message/<txnId>, as
// https://spec.matrix.org/v1.10/client-server-api/#put_matrixclientv3roomsroomidsendeventtypetxnid
// describes. The transaction id makes the PUT idempotent on the homeserver,
// which suits Herald's at-least-once delivery.
package matrix

import (
	"context"
	"crypto/sha1" // Flux's transaction id, not a security digest
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier puts m.text messages into one room.
type Notifier struct {
	ep   notify.Endpoint
	room string
	// auth is "Bearer <token>", sent even with an empty token, as Flux does.
	auth map[string]notify.Secret
}

// New builds a Matrix notifier: cfg.Address is the homeserver URL, cfg.Channel
// the room id and cfg.Token the access token. Flux uses certSecretRef but no
// proxy for matrix (behaviour reference §6); notify.Resolve leaves the proxy
// out of cfg.HTTPClient for this type, so Herald does the same.
func New(cfg notify.Config) (*Notifier, error) {
	return notify.Build(cfg, func(ep notify.Endpoint) *Notifier {
		return &Notifier{
			ep:   ep,
			room: cfg.Channel,
			auth: map[string]notify.Secret{"Authorization": "Bearer " + cfg.Token},
		}
	})
}

// Payload is the m.room.message content Flux sends.
type Payload struct {
	Body    string `json:"body"`
	MsgType string `json:"msgtype"`
}

// NewPayload builds Flux's message: an emoji and the object, the message,
// then one "- k: v" line per metadata entry.
func NewPayload(ev event.Event) Payload {
	emoji := "💫"
	if ev.Severity == event.SeverityError {
		emoji = "🚨"
	}
	var b strings.Builder
	b.WriteString(emoji + " " + ev.ObjectName() + "\n" + ev.Message + "\n")
	// Flux ranges over the metadata map, in no set order; sorted here so
	// that Herald's requests are reproducible.
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		b.WriteString("- " + k + ": " + ev.Metadata[k] + "\n")
	}
	return Payload{Body: b.String(), MsgType: "m.text"}
}

// TxnID is Flux's transaction id: the lowercase hex SHA-1 of the event as
// the generic provider would send it.
func TxnID(ev event.Event) (string, error) {
	data, err := json.Marshal(ev)
	if err != nil {
		return "", err
	}
	sum := sha1.Sum(data)
	return hex.EncodeToString(sum[:]), nil
}

// Notify PUTs ev into the room. The address and the room id are joined raw,
// without escaping, as Flux does.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	txnID, err := TxnID(ev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("unable to generate unique tx id: %w", err))
	}
	body, err := json.Marshal(NewPayload(ev))
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("marshalling notification payload failed: %w", err))
	}
	url := n.ep.Address + "/_matrix/client/r0/rooms/" + n.room + "/send/m.room.message/" + txnID
	return notify.Outcome(n.ep.At(url).Send(ctx, http.MethodPut, body, notify.WithHeaders(n.auth)))
}
