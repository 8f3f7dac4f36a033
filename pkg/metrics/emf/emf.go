// Package emf records Herald's metrics as CloudWatch Embedded Metric Format
// (EMF) log lines, for the Lambda functions. A function's stdout goes to
// CloudWatch Logs, which turns each line into metric values: no SDK, no
// PutMetricData call, no permission beyond the log group's.
//
// Each measurement is one line, written at once, so that nothing is lost
// when Lambda freezes or ends the execution environment between
// invocations:
//
//	{"_aws":{"Timestamp":1700000000123,"CloudWatchMetrics":[{"Namespace":"Herald",
//	"Dimensions":[["function","provider_type","outcome","reason"]],
//	"Metrics":[{"Name":"Deliveries","Unit":"Count"}]}]},"function":"herald-dispatch",
//	"provider_type":"slack","outcome":"retry","reason":"server_error","Deliveries":1}
//
// (one line in the log). The dimensions are bounded sets: the function's
// name, provider types, outcomes and reasons, which are the code's
// constants. A label that is not a short lower-case word is written as
// "other", so that free text passed by mistake can neither reach the logs
// nor grow the number of CloudWatch metrics; an empty one is "none", since
// CloudWatch refuses empty dimension values.
//
// See https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
package emf

import (
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/metrics"
)

// Namespace is the CloudWatch namespace of Herald's metrics.
const Namespace = "Herald"

// Metric names.
const (
	// EventsReceived counts valid events, duplicates included.
	EventsReceived = "EventsReceived"
	// EventsDuplicate counts events refused as duplicates (429).
	EventsDuplicate = "EventsDuplicate"
	// EventsRejected counts ingest requests refused before decoding, by
	// reason.
	EventsRejected = "EventsRejected"
	// Deliveries counts delivery attempts by provider type, outcome and
	// reason.
	Deliveries = "Deliveries"
	// DeliveryDuration is the time of one delivery attempt, in
	// milliseconds, by provider type.
	DeliveryDuration = "DeliveryDuration"
	// DeadLetters counts jobs moved to the dead-letter queue.
	DeadLetters = "DeadLetters"
)

// Dimension keys.
const (
	// DimFunction is the Lambda function's name, which tells two Herald
	// stacks in one account and region apart.
	DimFunction     = "function"
	DimProviderType = "provider_type"
	DimOutcome      = "outcome"
	DimReason       = "reason"
)

// Label values written in place of an empty label and of one that is not
// a short lower-case word.
const (
	LabelNone  = "none"
	LabelOther = "other"
)

// maxLabel is the longest label written as it is; provider types, the
// longest labels, are at most 25 bytes.
const maxLabel = 32

// Options configure a Recorder.
type Options struct {
	// Function is the value of the "function" dimension of every line:
	// the Lambda function's name (AWS_LAMBDA_FUNCTION_NAME). Empty leaves
	// the dimension out.
	Function string
	// Now is the clock of the lines' timestamps; default time.Now.
	Now func() time.Time
}

// Recorder writes one EMF line per measurement. It is safe for concurrent
// use: a line is written whole, in one Write, and lines never interleave.
// Write errors are ignored; a measurement never fails a request.
type Recorder struct {
	out io.Writer
	now func() time.Time

	received, duplicate, rejected, deliveries, duration, deadLetters kind

	mu  sync.Mutex
	buf []byte
}

var _ metrics.Recorder = (*Recorder)(nil)

// kind is the fixed text of one metric's lines.
type kind struct {
	// directive runs from the CloudWatchMetrics member to the end of the
	// fixed dimension members.
	directive string
	// labels are the keys of the dimensions each measurement names.
	labels []string
	// value opens the metric's member: `,"Name":`.
	value string
}

// New returns a Recorder writing to out, which in a Lambda function is
// os.Stdout.
func New(out io.Writer, opts Options) *Recorder {
	r := &Recorder{out: out, now: opts.Now, buf: make([]byte, 0, 512)}
	if r.now == nil {
		r.now = time.Now
	}
	fn := opts.Function
	r.received = newKind(fn, EventsReceived, "Count")
	r.duplicate = newKind(fn, EventsDuplicate, "Count")
	r.rejected = newKind(fn, EventsRejected, "Count", DimReason)
	r.deliveries = newKind(fn, Deliveries, "Count", DimProviderType, DimOutcome, DimReason)
	r.duration = newKind(fn, DeliveryDuration, "Milliseconds", DimProviderType)
	r.deadLetters = newKind(fn, DeadLetters, "Count")
	return r
}

func newKind(function, name, unit string, labels ...string) kind {
	var dims []string
	if function != "" {
		dims = append(dims, DimFunction)
	}
	dims = append(dims, labels...)
	b := []byte(`,"CloudWatchMetrics":[{"Namespace":`)
	b = appendString(b, Namespace)
	b = append(b, `,"Dimensions":[[`...)
	for i, d := range dims {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, d)
	}
	b = append(b, `]],"Metrics":[{"Name":`...)
	b = appendString(b, name)
	b = append(b, `,"Unit":`...)
	b = appendString(b, unit)
	b = append(b, `}]}]}`...)
	if function != "" {
		b = append(b, ',')
		b = appendString(b, DimFunction)
		b = append(b, ':')
		b = appendString(b, function)
	}
	v := append(appendString([]byte{','}, name), ':')
	return kind{directive: string(b), labels: labels, value: string(v)}
}

// EventReceived implements metrics.Recorder.
func (r *Recorder) EventReceived() { r.count(&r.received) }

// EventDuplicate implements metrics.Recorder.
func (r *Recorder) EventDuplicate() { r.count(&r.duplicate) }

// EventRejected implements metrics.Recorder.
func (r *Recorder) EventRejected(reason string) { r.count(&r.rejected, reason) }

// DeliveryOutcome implements metrics.Recorder.
func (r *Recorder) DeliveryOutcome(providerType, outcome, reason string) {
	r.count(&r.deliveries, providerType, outcome, reason)
}

// DeliveryAttempt implements metrics.Recorder: the duration in
// milliseconds, to the microsecond.
func (r *Recorder) DeliveryAttempt(providerType string, d time.Duration) {
	r.emit(&r.duration, float64(max(d, 0).Microseconds())/1000, providerType)
}

// QueueDepthChange implements metrics.Recorder. It writes nothing: in AWS
// the queue is SQS, whose depth CloudWatch has already
// (ApproximateNumberOfMessagesVisible in AWS/SQS).
func (r *Recorder) QueueDepthChange(int) {}

// DeadLettered implements metrics.Recorder.
func (r *Recorder) DeadLettered() { r.count(&r.deadLetters) }

func (r *Recorder) count(k *kind, labels ...string) { r.emit(k, 1, labels...) }

// emit writes one line: the metric k with value v and the labels of its
// dimensions, in order.
func (r *Recorder) emit(k *kind, v float64, labels ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b := append(r.buf[:0], `{"_aws":{"Timestamp":`...)
	b = strconv.AppendInt(b, r.now().UnixMilli(), 10)
	b = append(b, k.directive...)
	for i, key := range k.labels {
		b = append(b, ',', '"')
		b = append(b, key...)
		b = append(b, `":"`...)
		b = append(b, label(labels[i])...)
		b = append(b, '"')
	}
	b = append(b, k.value...)
	b = strconv.AppendFloat(b, v, 'f', -1, 64)
	b = append(b, '}', '\n')
	r.buf = b
	_, _ = r.out.Write(b)
}

// label returns s if it is a short lower-case word (letters, digits, '_'
// and '-'), LabelNone if it is empty and LabelOther otherwise. Such a word
// needs no escaping in JSON.
func label(s string) string {
	if s == "" {
		return LabelNone
	}
	if len(s) > maxLabel {
		return LabelOther
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return LabelOther
		}
	}
	return s
}

// appendString appends s as a JSON string. It serves the fixed text built
// once in New, where the function name is the one string from outside.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
