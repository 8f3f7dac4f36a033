package notifytest

import (
	"context"
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
