package notifytest

import (
	"context"
	"encoding/base64"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// New builds a notifier with newNotifier, failing the test if it cannot.
func New[N any](t testing.TB, newNotifier func(notify.Config) (N, error), cfg notify.Config) N {
	t.Helper()
	n, err := newNotifier(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return n
}

// Deliver has n deliver ev, failing the test unless it succeeds, and
// returns the last request sink received.
func Deliver(t testing.TB, sink *Sink, n notify.Notifier, ev event.Event) Request {
	t.Helper()
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	return sink.Last(t)
}

// At is the NewFunc of RunRetryTests that builds a notifier with
// newNotifier from cfg with the sink's address.
func At[N notify.Notifier](newNotifier func(notify.Config) (N, error), cfg notify.Config) NewFunc {
	return func(t *testing.T, address string) notify.Notifier {
		cfg.Address = notify.Secret(address)
		return New(t, newNotifier, cfg)
	}
}

// GoldenCase is one golden file: the reference event at a severity, with or
// without metadata.
type GoldenCase struct {
	Name     string
	Severity string
	Metadata bool
}

// Event is the reference event of the case.
func (c GoldenCase) Event() event.Event { return ReferenceEvent(c.Severity, c.Metadata) }

// GoldenCases are the golden files every provider has.
var GoldenCases = []GoldenCase{
	{"info", event.SeverityInfo, true},
	{"info-no-metadata", event.SeverityInfo, false},
	{"error", event.SeverityError, true},
	{"error-no-metadata", event.SeverityError, false},
}

// RunGolden compares, for each of GoldenCases, the request send makes of
// its event with the case's golden file.
func RunGolden(t *testing.T, send func(t *testing.T, ev event.Event) Request) {
	t.Helper()
	for _, tc := range GoldenCases {
		t.Run(tc.Name, func(t *testing.T) {
			AssertGolden(t, tc.Name, send(t, tc.Event()))
		})
	}
}

// NewError asserts that newNotifier refuses cfg with exactly the error want.
func NewError[N any](t testing.TB, newNotifier func(notify.Config) (N, error), cfg notify.Config, want string) {
	t.Helper()
	if _, err := newNotifier(cfg); err == nil || err.Error() != want {
		t.Errorf("New: err = %v, want %q", err, want)
	}
}

// AuthCase is a config and the one Authorization header it must send, or
// none for "".
type AuthCase struct {
	Name string
	Cfg  notify.Config
	Want string
}

// BasicAuth is the Authorization value of basic auth for user and password.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// RunAuthTests checks the Authorization header of the request send makes
// for each case's config.
func RunAuthTests(t *testing.T, send func(t *testing.T, cfg notify.Config) Request, cases []AuthCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			h := send(t, tc.Cfg).Header
			if got := h.Values("Authorization"); len(got) > 1 || h.Get("Authorization") != tc.Want {
				t.Errorf("Authorization = %q, want %q", got, tc.Want)
			}
		})
	}
}
