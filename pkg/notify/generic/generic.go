// Package generic posts the Flux event itself to a webhook: Flux's generic
// and generic-hmac provider types (internal/notifier/forwarder.go).
package generic

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Header names Flux sends. Go canonicalises them on the wire, so Flux's
// "gotk-component" arrives as "Gotk-Component".
const (
	ComponentHeader = "Gotk-Component"
	SignatureHeader = "X-Signature"
)

// Notifier forwards events as JSON, signed when it has an HMAC key.
type Notifier struct {
	ep      notify.Endpoint
	headers map[string]notify.Secret
	// hmacKey is nil for the generic type.
	hmacKey []byte
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a generic notifier: cfg.Address must be a request URI, and the
// secret's headers are sent with every request.
func New(cfg notify.Config) (notify.Notifier, error) {
	return newNotifier(cfg, nil)
}

// NewHMAC builds a generic-hmac notifier, which also signs the body with the
// secret's token as HMAC-SHA256 key.
func NewHMAC(cfg notify.Config) (notify.Notifier, error) {
	// The token is used raw, as Flux passes it to the forwarder.
	if cfg.Token == "" {
		return nil, errors.New("HMAC key is empty")
	}
	return newNotifier(cfg, []byte(cfg.Token.Reveal()))
}

func newNotifier(cfg notify.Config, key []byte) (*Notifier, error) {
	ep, err := notify.NewEndpoint(cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{
		ep:      ep,
		headers: cfg.Headers,
		hmacKey: key,
	}, nil
}

// Notify posts ev as Flux marshals it. Headers go in Flux's order:
// Content-Type, Gotk-Component, then the secret's headers, which may
// override both, and for generic-hmac X-Signature last, so that a custom
// X-Signature header cannot replace the real one.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	body := ev.AppendJSON(make([]byte, 0, 1024))
	opts := make([]notify.PostOption, 0, 3)
	opts = append(opts,
		notify.WithHeader(ComponentHeader, ev.ReportingController),
		notify.WithHeaders(n.headers),
	)
	if n.hmacKey != nil {
		opts = append(opts, notify.WithHeader(SignatureHeader, Sign(n.hmacKey, body)))
	}
	return notify.Outcome(n.ep.Send(ctx, http.MethodPost, body, opts...))
}

// Sign returns Flux's X-Signature value: "sha256=" and the lowercase hex
// HMAC-SHA256 of body under key.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}
