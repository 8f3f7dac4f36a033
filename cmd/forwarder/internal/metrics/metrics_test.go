package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	w := httptest.NewRecorder()
	m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if w.Code != http.StatusOK {
		t.Fatalf("status %d", w.Code)
	}
	return w.Body.String()
}

func TestExported(t *testing.T) {
	oldest := time.Now().Add(-time.Minute)
	m := New(func() (int, int64, time.Time) { return 3, 4096, oldest })
	m.Received("relay")
	m.Forwarded()
	m.HeraldDuplicate()
	m.Retried()
	m.Dropped(DropCorrupt)
	m.Reconcile(ReconcileApplied)
	m.ObserveHerald("events", 30*time.Millisecond)
	out := scrape(t, m)
	for _, line := range []string{
		`herald_forwarder_events_received_total{source="relay"} 1`,
		`herald_forwarder_events_received_total{source="watch"} 0`,
		`herald_forwarder_events_forwarded_total 2`,
		`herald_forwarder_events_herald_duplicate_total 1`,
		`herald_forwarder_events_retried_total 1`,
		`herald_forwarder_events_dropped_total{reason="corrupt"} 1`,
		`herald_forwarder_events_dropped_total{reason="buffer_full"} 0`,
		`herald_forwarder_reconcile_requests_total{outcome="applied"} 1`,
		`herald_forwarder_herald_request_duration_seconds_count{route="events"} 1`,
		`herald_forwarder_buffer_events 3`,
		`herald_forwarder_buffer_bytes 4096`,
	} {
		if !strings.Contains(out, "\n"+line+"\n") {
			t.Errorf("no %q in\n%s", line, out)
		}
	}
	if !strings.Contains(out, "\nherald_forwarder_buffer_oldest_event_age_seconds 6") {
		t.Errorf("the oldest event's age is not about a minute:\n%s", out)
	}
}

// TestNilIsANoOp: parts used before the metrics exist, or in tests
// without them, record nothing and do not panic.
func TestNilIsANoOp(t *testing.T) {
	var m *Metrics
	m.Received("relay")
	m.Forwarded()
	m.HeraldDuplicate()
	m.Retried()
	m.Dropped(DropBufferFull)
	m.Reconcile(ReconcileFailed)
	m.ObserveHerald("poll", time.Second)
}
