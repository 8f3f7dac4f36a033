// Package notify defines what a provider is to Herald: a Notifier that makes
// one delivery attempt and says whether another could succeed. It also holds
// what every provider shares: resolved provider config, secrets that never
// print, the HTTP poster and the single outcome classifier. Each provider
// type lives in its own package below this one.
package notify

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald/pkg/event"
)

// Notifier delivers events to one configured provider.
type Notifier interface {
	// Notify makes exactly one attempt to deliver ev. retry reports whether a
	// later attempt could succeed; it is false when err is nil. The delay a
	// server asked for, if any, is available through RetryAfter(err).
	Notify(ctx context.Context, ev event.Event) (retry bool, err error)
}

// StatusNotifier is a Git commit-status provider. The dispatcher computes
// the status id when it plans the event's deliveries, since a Provider's
// spec.commitStatusExpr reads the Alert, and the delivery passes it here;
// Notify, the plain Notifier method, uses the default id of the Provider's
// UID instead.
type StatusNotifier interface {
	// NotifyCommitStatus makes one attempt to set the status statusID on
	// the event's commit. retry reports whether a later attempt could
	// succeed.
	NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error)
}

// Factory builds a Notifier from resolved config. It validates the config,
// builds its clients once, and never puts a secret into its error.
type Factory func(cfg Config) (Notifier, error)

// ErrUnsupportedType is returned for a provider type that Flux knows and
// Herald does not deliver to yet. Such a Provider loads; its deliveries fail.
var ErrUnsupportedType = errors.New("provider type not supported by Herald yet")

// DefaultTimeout bounds one attempt when the Provider sets no timeout.
const DefaultTimeout = 15 * time.Second

// Config is a Provider resolved against its secrets: everything a Factory
// needs, in the override order of Flux's notification-controller.
type Config struct {
	// Provider identity; UID is api.StableUID of the Provider.
	Type      string
	Name      string
	Namespace string
	UID       string

	// Address is spec.address, or the secret's address key when present.
	Address  Secret
	Channel  string
	Username string
	Password Secret
	Token    Secret
	// Headers come from the secret's headers key (a YAML map).
	Headers map[string]Secret
	// SecretData is the whole main secret, for providers that read other keys.
	SecretData map[string]Secret

	Timeout time.Duration

	// Proxy is the resolved proxy URL, credentials included, or empty.
	// HTTPClient already routes through it; it is here so that errors can
	// be masked with its credentials and reports can say a proxy is used.
	Proxy Secret

	// HTTPClient carries the proxy and TLS settings; providers must use it
	// and must not build their own transport.
	HTTPClient *http.Client
}

// Client is the HTTP client to send with: HTTPClient, or the shared default
// when a caller built the Config by hand, following redirects by
// CheckRedirect whoever built it.
func (c Config) Client() *http.Client {
	return RedirectSafe(c.HTTPClient)
}

// Error is a failed attempt, classified.
type Error struct {
	// Retryable reports whether a later attempt could succeed.
	Retryable bool
	// RetryAfter is the delay the server asked for, or 0.
	RetryAfter time.Duration
	// StatusCode is the HTTP status of the response, or 0.
	StatusCode int
	Err        error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Permanent marks err as not worth retrying.
func Permanent(err error) *Error { return &Error{Err: err} }

// Retryable marks err as worth retrying after the queue's back-off.
func Retryable(err error) *Error { return &Error{Retryable: true, Err: err} }

// IsRetryable reports whether err is worth retrying. Errors that were not
// classified are retried, so that nothing is dropped by an oversight.
func IsRetryable(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return !errors.Is(err, context.Canceled)
}

// RetryAfter returns the delay the provider asked for before the next attempt.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

// FactoryOf adapts a provider's New, which returns its concrete notifier so
// that tests need no type assertion, to a Factory. A failed New gives a nil
// Notifier rather than one holding a nil pointer.
func FactoryOf[N Notifier](newNotifier func(Config) (N, error)) Factory {
	return func(cfg Config) (Notifier, error) {
		n, err := newNotifier(cfg)
		if err != nil {
			return nil, err
		}
		return n, nil
	}
}
