package notify

import (
	"context"
	"net/http"
	"slices"

	"github.com/heraldhq/herald/pkg/event"
)

// Endpoint is what an HTTP provider sends with: the URL, the client Resolve
// built for the Provider, and every secret of its config. Each request it
// makes masks those secrets out of its error, on top of the address and
// credentials Post masks by itself, so no provider can forget to.
type Endpoint struct {
	// Address is the URL requests go to. Providers that derive their URL
	// from spec.address rewrite it in New, or pick one per request with At.
	Address string
	// Client nil means the shared default client.
	Client  *http.Client
	Secrets []Secret
}

// NewEndpoint checks cfg.Address as Flux does, with url.ParseRequestURI, and
// pairs it with cfg's client and secrets. Its error names the problem,
// never the address.
func NewEndpoint(cfg Config) (Endpoint, error) {
	address, err := parseAddress(cfg.Address)
	if err != nil {
		return Endpoint{}, err
	}
	return Endpoint{Address: address, Client: cfg.Client(), Secrets: cfg.SecretValues()}, nil
}

// At is e sending to address, for providers that post to several paths or
// build their URL per event.
func (e Endpoint) At(address string) Endpoint {
	e.Address = address
	return e
}

// PostJSON POSTs payload marshalled with encoding/json, as Flux does
// (struct field order, sorted map keys, HTML escaping).
func (e Endpoint) PostJSON(ctx context.Context, payload any, opts ...PostOption) error {
	return postJSON(ctx, e.Client, e.Address, payload, e.masked(opts)...)
}

// Send makes one request with body and classifies its outcome.
func (e Endpoint) Send(ctx context.Context, method string, body []byte, opts ...PostOption) error {
	return post(ctx, e.Client, method, e.Address, body, e.masked(opts)...)
}

func (e Endpoint) masked(opts []PostOption) []PostOption {
	return append(slices.Clip(opts), WithMask(e.Secrets...))
}

// Build makes a provider's notifier around the Endpoint of cfg: the one
// constructor step that every HTTP provider shares.
func Build[N any](cfg Config, notifier func(Endpoint) N) (N, error) {
	ep, err := NewEndpoint(cfg)
	if err != nil {
		var zero N
		return zero, err
	}
	return notifier(ep), nil
}

// Webhook is the whole notifier of a provider whose only work is its
// payload: for each event it posts, as JSON, what render makes of it, to the
// Provider's address, which is the only credential (Google Chat, Lark).
type Webhook[P any] struct {
	ep     Endpoint
	render func(event.Event) P
}

// NewWebhook builds a Webhook that posts render's payloads to cfg.Address.
func NewWebhook[P any](cfg Config, render func(event.Event) P) (*Webhook[P], error) {
	return Build(cfg, func(ep Endpoint) *Webhook[P] { return &Webhook[P]{ep: ep, render: render} })
}

// Notify posts ev's payload once.
func (w *Webhook[P]) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return Outcome(w.ep.PostJSON(ctx, w.render(ev)))
}
