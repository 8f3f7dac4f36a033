package prom

import "testing"

// Every Recorder method moves its collector, and only its own.
func TestRecorder(t *testing.T) {
	m := New()
	m.EventReceived()
	m.EventDuplicate()
	m.EventRejected("invalid")
	m.DeliveryOutcome("slack", "failed", "client_error")
	m.DeadLettered()
	m.DeadLettered()

	families, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range families {
		for _, s := range f.GetMetric() {
			got[f.GetName()] += s.GetCounter().GetValue()
		}
	}
	for name, want := range map[string]float64{
		"herald_events_received_total":  1,
		"herald_events_duplicate_total": 1,
		"herald_events_rejected_total":  1,
		"herald_deliveries_total":       1,
		"herald_dead_letters_total":     2,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
