// Package prom records Herald's metrics with the Prometheus client and
// serves them on /metrics, for herald serve. The Lambda functions leave it
// out: nothing scrapes a Lambda, and the client with its protobuf
// dependency is a third of a function's binary.
package prom

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhq/herald/pkg/metrics"
)

// Metrics are the collectors of one Herald process.
type Metrics struct {
	registry *prometheus.Registry

	// EventsReceived counts valid events, duplicates included.
	EventsReceived prometheus.Counter
	// EventsDuplicate counts events refused as duplicates (429).
	EventsDuplicate prometheus.Counter
	// EventsRejected counts requests refused before decoding, by reason.
	EventsRejected *prometheus.CounterVec
	// Deliveries counts delivery attempts by provider type and outcome.
	Deliveries *prometheus.CounterVec
	// DeliveryDuration is the time of one delivery attempt.
	DeliveryDuration *prometheus.HistogramVec
	// QueueDepth is the number of deliveries queued or waiting to retry.
	QueueDepth prometheus.Gauge
	// ConfigReloads counts herald serve's config reloads by result (ok,
	// failed); a failed one keeps the last good config.
	ConfigReloads *prometheus.CounterVec
	// DeadLetters counts jobs moved to the dead-letter queue.
	DeadLetters prometheus.Counter
}

// New registers Herald's metrics, with the Go and process collectors, on a
// registry of its own.
func New() *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		EventsReceived: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_events_received_total",
			Help: "Valid events received, duplicates included.",
		}),
		EventsDuplicate: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_events_duplicate_total",
			Help: "Events refused as duplicates within the rate-limit interval.",
		}),
		EventsRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_events_rejected_total",
			Help: "Ingest requests refused, by reason.",
		}, []string{"reason"}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_deliveries_total",
			Help: "Delivery attempts by provider type, outcome (delivered, retry, failed, skipped) and failure reason (rate_limited, client_error, server_error, timeout, connection, config, shutdown; empty when delivered or skipped).",
		}, []string{"provider_type", "outcome", "reason"}),
		DeliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "herald_delivery_duration_seconds",
			Help:    "Duration of one delivery attempt.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 15},
		}, []string{"provider_type"}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "herald_delivery_queue_depth",
			Help: "Deliveries queued or waiting for a retry.",
		}),
		ConfigReloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_config_reloads_total",
			Help: "Config reloads by result (ok, failed); a failed reload keeps the last good config.",
		}, []string{"result"}),
		DeadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "herald_dead_letters_total",
			Help: "Jobs moved to the dead-letter queue, whence herald replay resends them.",
		}),
	}
	m.registry.MustRegister(m.EventsReceived, m.EventsDuplicate, m.EventsRejected,
		m.Deliveries, m.DeliveryDuration, m.QueueDepth, m.ConfigReloads, m.DeadLetters,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Gatherer exposes the registry, for tests.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.registry }

var _ metrics.Recorder = (*Metrics)(nil)

// EventReceived implements metrics.Recorder.
func (m *Metrics) EventReceived() { m.EventsReceived.Inc() }

// EventDuplicate implements metrics.Recorder.
func (m *Metrics) EventDuplicate() { m.EventsDuplicate.Inc() }

// EventRejected implements metrics.Recorder.
func (m *Metrics) EventRejected(reason string) { m.EventsRejected.WithLabelValues(reason).Inc() }

// DeliveryOutcome implements metrics.Recorder.
func (m *Metrics) DeliveryOutcome(providerType, outcome, reason string) {
	m.Deliveries.WithLabelValues(providerType, outcome, reason).Inc()
}

// DeliveryAttempt implements metrics.Recorder.
func (m *Metrics) DeliveryAttempt(providerType string, d time.Duration) {
	m.DeliveryDuration.WithLabelValues(providerType).Observe(d.Seconds())
}

// QueueDepthChange implements metrics.Recorder.
func (m *Metrics) QueueDepthChange(delta int) { m.QueueDepth.Add(float64(delta)) }

// DeadLettered implements metrics.Recorder.
func (m *Metrics) DeadLettered() { m.DeadLetters.Inc() }
