// Package metrics names what Herald measures. The ingest handler and the
// delivery workers record through Recorder; herald serve exports the
// measurements in the Prometheus format (package prom), and the Lambda
// functions, which nothing scrapes, write them to their logs in CloudWatch's
// Embedded Metric Format (package emf). Nop discards them.
package metrics

import "time"

// Delivery outcomes.
const (
	OutcomeDelivered = "delivered"
	OutcomeRetry     = "retry"
	OutcomeFailed    = "failed"
	OutcomeSkipped   = "skipped"
)

// Recorder receives Herald's measurements.
type Recorder interface {
	// EventReceived counts a valid event, duplicates included.
	EventReceived()
	// EventDuplicate counts an event refused as a duplicate.
	EventDuplicate()
	// EventRejected counts a request refused before decoding, by reason.
	EventRejected(reason string)
	// DeliveryOutcome counts a delivery attempt's outcome. reason is ""
	// for a delivery, and one of notify's Reason constants (rate_limited,
	// client_error, server_error, timeout, connection, config) or
	// "shutdown" for a failure.
	DeliveryOutcome(providerType, outcome, reason string)
	// DeliveryAttempt records how long a delivery attempt took.
	DeliveryAttempt(providerType string, d time.Duration)
	// QueueDepthChange adds delta to the deliveries queued or waiting.
	QueueDepthChange(delta int)
	// DeadLettered counts a job moved to the dead-letter queue, once the
	// move has succeeded. A failed delivery (DeliveryOutcome with
	// OutcomeFailed) is not always one: a message that is not a job is
	// dead-lettered without an attempt, and a move that fails leaves the
	// job to be tried again.
	DeadLettered()
}

// Nop discards every measurement.
type Nop struct{}

func (Nop) EventReceived()                         {}
func (Nop) EventDuplicate()                        {}
func (Nop) EventRejected(string)                   {}
func (Nop) DeliveryOutcome(string, string, string) {}
func (Nop) DeliveryAttempt(string, time.Duration)  {}
func (Nop) QueueDepthChange(int)                   {}
func (Nop) DeadLettered()                          {}

var _ Recorder = Nop{}
