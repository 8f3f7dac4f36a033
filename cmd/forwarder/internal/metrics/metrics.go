// Package metrics holds the forwarder's Prometheus metrics, on a registry
// of its own so that nothing but them (and the Go and process collectors)
// is exported.
package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Reasons an event is dropped.
const (
	DropBufferFull = "buffer_full" // the buffer was full; the oldest went
	DropRejected   = "rejected"    // Herald refused the event as bad (4xx)
	DropDuplicate  = "duplicate"   // seen by the relay and the watch
	DropCorrupt    = "corrupt"     // a buffered record that can no longer be read
)

// Outcomes of a reconcile request.
const (
	ReconcileApplied = "applied"
	ReconcileFailed  = "failed"
	ReconcileSkipped = "skipped"
	// ReconcileFilterError: a Receiver filter failed to evaluate on at
	// least one object, which was not annotated.
	ReconcileFilterError = "filter_error"
)

// BufferStats reads what the buffer holds, at scrape time.
type BufferStats func() (events int, bytes int64, oldest time.Time)

// Metrics are the forwarder's counters.
type Metrics struct {
	reg        *prometheus.Registry
	received   *prometheus.CounterVec
	forwarded  prometheus.Counter
	duplicates prometheus.Counter
	retried    prometheus.Counter
	dropped    *prometheus.CounterVec
	reconcile  *prometheus.CounterVec
	latency    *prometheus.HistogramVec
}

// New registers the metrics; stats feeds the buffer gauges.
func New(stats BufferStats) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_forwarder_events_received_total",
			Help: "Events received, by source: relay (posted by a Flux controller) or watch (a Kubernetes Event).",
		}, []string{"source"}),
		forwarded: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_forwarder_events_forwarded_total",
			Help: "Events Herald accepted (202), or already had (its duplicate answer).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_forwarder_events_herald_duplicate_total",
			Help: "Events Herald answered as duplicates of one it already had; counted as forwarded too.",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_forwarder_events_retried_total",
			Help: "Sends to Herald that failed in a way worth retrying and were tried again.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_forwarder_events_dropped_total",
			Help: "Events dropped, by reason: buffer_full, rejected (Herald answered 4xx), duplicate (relay and watch), corrupt (unreadable on disk).",
		}, []string{"reason"}),
		reconcile: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_forwarder_reconcile_requests_total",
			Help: "Reconcile requests, by outcome: applied, failed (for good), skipped (no object found, or none passed the filters), filter_error (a Receiver filter failed to evaluate on an object, which was not annotated).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_forwarder_herald_request_duration_seconds",
			Help:    "Round trips to Herald, by route: events or poll.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	for _, r := range []string{DropBufferFull, DropRejected, DropDuplicate, DropCorrupt} {
		m.dropped.WithLabelValues(r)
	}
	for _, o := range []string{ReconcileApplied, ReconcileFailed, ReconcileSkipped, ReconcileFilterError} {
		m.reconcile.WithLabelValues(o)
	}
	m.received.WithLabelValues("relay")
	m.received.WithLabelValues("watch")
	m.reg.MustRegister(m.received, m.forwarded, m.duplicates, m.retried, m.dropped, m.reconcile, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stats != nil {
		m.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_forwarder_buffer_events", Help: "Events in the buffer, not yet acknowledged by Herald."},
				func() float64 { n, _, _ := stats(); return float64(n) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_forwarder_buffer_bytes", Help: "Bytes of the events in the buffer."},
				func() float64 { _, b, _ := stats(); return float64(b) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "herald_forwarder_buffer_oldest_event_age_seconds", Help: "Age of the oldest buffered event; 0 when empty."},
				func() float64 {
					_, _, oldest := stats()
					if oldest.IsZero() {
						return 0
					}
					return time.Since(oldest).Seconds()
				}),
		)
	}
	return m
}

// Handler serves the metrics in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// The recording methods do nothing on a nil *Metrics, so that a part
// used before the metrics exist (the buffer reporting drops while it
// opens) or without them (tests) does not panic.

func (m *Metrics) Received(source string) {
	if m != nil {
		m.received.WithLabelValues(source).Inc()
	}
}

func (m *Metrics) Forwarded() {
	if m != nil {
		m.forwarded.Inc()
	}
}

func (m *Metrics) HeraldDuplicate() {
	if m != nil {
		m.duplicates.Inc()
		m.forwarded.Inc()
	}
}

func (m *Metrics) Retried() {
	if m != nil {
		m.retried.Inc()
	}
}

func (m *Metrics) Dropped(reason string) {
	if m != nil {
		m.dropped.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) Reconcile(outcome string) {
	if m != nil {
		m.reconcile.WithLabelValues(outcome).Inc()
	}
}

// ObserveHerald records one round trip to Herald.
func (m *Metrics) ObserveHerald(route string, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(route).Observe(d.Seconds())
	}
}
