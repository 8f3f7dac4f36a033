package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/store"
)

// Message attributes of a job that Handler moved to the dead-letter queue.
const (
	AttrFailureReason = "herald-failure-reason"
	AttrProvider      = "herald-provider"
)

// AttrReplayed is the message attribute Replay sets: when the job was
// replayed, in RFC 3339. Its retry horizon starts again then.
const AttrReplayed = "herald-replayed"

// ReasonMalformed is the failure reason of a message that is not a job.
const ReasonMalformed = delivery.ReasonMalformed

// Defaults of Handler.
const (
	DefaultConcurrency = 10
	// DefaultLease is the claim on a job when the invocation has no
	// deadline: the longest a Lambda invocation can run.
	DefaultLease = 15 * time.Minute
	// maxReasonBytes caps the failure reason attribute.
	maxReasonBytes = 1024
)

// Handler delivers the SQS batches of the dispatch Lambda. Build it once
// per execution environment; Handle is safe for concurrent use.
//
// Each record is a job. Handle claims it in the idempotency records, makes
// one attempt with the Deliverer and acts on the decision:
//   - Done: the record is completed and the message acknowledged.
//   - RetryLater: the claim is released, the message's visibility timeout
//     is set to the delay, and the message is reported in
//     batchItemFailures, so SQS redelivers it then. Nothing sleeps.
//   - GiveUp: the job goes to the dead-letter queue with its reason and
//     Provider as message attributes, and the original is acknowledged;
//     if that send fails, the message is reported failed instead.
//
// A message whose job was delivered before is acknowledged unsent; one
// that another worker holds is retried after the lease. One record's
// failure never fails the batch: Handle reports failures per message and
// returns a nil error. The event source mapping must enable
// ReportBatchItemFailures.
type Handler struct {
	Deliverer   *delivery.Deliverer
	Idempotency delivery.Idempotency
	Client      API
	// QueueURL is the delivery queue the records come from.
	QueueURL string
	// DLQURL is its dead-letter queue.
	DLQURL string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now is the clock; it sets the claim's lease from the invocation's
	// deadline. Default time.Now.
	Now func() time.Time
	// Concurrency bounds the records delivered at once. Default 10.
	Concurrency int
}

// Handle delivers the records of ev.
func (h *Handler) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(ev.Records))
	n := h.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range ev.Records {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			failed[i] = h.handleSafely(ctx, &ev.Records[i])
		}()
	}
	wg.Wait()

	var resp events.SQSEventResponse
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: ev.Records[i].MessageId})
		}
	}
	return resp, nil
}

// handleSafely is handle, with a panic turned into a failed message rather
// than a crash that would redeliver the whole batch.
func (h *Handler) handleSafely(ctx context.Context, rec *events.SQSMessage) (failed bool) {
	defer func() {
		if p := recover(); p != nil {
			h.logger().Error("delivery panicked; the message will be retried", "message_id", rec.MessageId, "panic", fmt.Sprint(p))
			failed = true
		}
	}()
	return h.handle(ctx, rec)
}

// handle processes one record and reports whether it failed.
func (h *Handler) handle(ctx context.Context, rec *events.SQSMessage) bool {
	log := h.logger().With("message_id", rec.MessageId)
	if ctx.Err() != nil {
		return true // out of time: SQS redelivers it
	}

	var job delivery.Job
	// The decoder's error is not logged: it may quote the body.
	if err := json.Unmarshal([]byte(rec.Body), &job); err != nil || job.ID == "" {
		log.Error("message is not a delivery job; moving it to the dead-letter queue", "reason", ReasonMalformed)
		return !h.deadLetter(ctx, log, rec.Body, ReasonMalformed, "")
	}
	job.Attempt = receives(rec) - 1
	job.Queued = horizonStart(rec, job.Queued, h.now())
	log = log.With("delivery", job.ID, "provider", job.Provider.String())

	lease := h.lease(ctx)
	claim, err := h.Idempotency.ClaimDelivery(ctx, job.ID, lease)
	if err != nil {
		log.Error("claiming the delivery failed; the message will be retried", "error", err.Error())
		return true
	}
	token := claim.Token
	switch claim.State {
	case store.AlreadyDone:
		log.Info("delivery already done; acknowledging the redelivered message")
		return false
	case store.InProgress:
		// Another worker's lease ends within about a lease from now.
		log.Info("delivery in progress elsewhere; retrying after the lease", "retry_in", lease.String())
		h.setVisibility(ctx, log, rec, lease)
		return true
	}

	// Should the attempt panic, the claim is released at once, so that the
	// retry handleSafely asks for is not held back for a whole lease.
	attempted := false
	defer func() {
		if !attempted {
			h.release(ctx, log, job.ID, token)
		}
	}()
	r := h.Deliverer.Attempt(ctx, &job)
	attempted = true
	switch r.Decision {
	case delivery.Done:
		if err := h.Idempotency.CompleteDelivery(ctx, job.ID); err != nil {
			// Delivered all the same: a retry would post twice, so the
			// message is acknowledged and the claim left to expire.
			log.Error("recording the delivery failed", "error", err.Error())
		}
		return false
	case delivery.RetryLater:
		h.releaseForRetry(ctx, log, &job, token, r)
		h.setVisibility(ctx, log, rec, r.Delay)
		return true
	default: // GiveUp
		// Released so that a replay of the job can claim it at once.
		h.release(ctx, log, job.ID, token)
		reason := r.Reason
		if r.Err != nil {
			reason += ": " + r.Err.Error()
		}
		return !h.deadLetter(ctx, log, rec.Body, reason, job.Provider.Namespace+"/"+job.Provider.Name)
	}
}

// receives is the record's ApproximateReceiveCount, at least 1.
func receives(rec *events.SQSMessage) int {
	n, err := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// horizonStart is when the job's retry horizon began: when it was replayed
// if it was, else when it was queued, which a job from before Job.Queued
// existed lacks, and SQS's SentTimestamp then tells. A SentTimestamp after
// now (a skewed clock, or a forged attribute) counts as now: the horizon
// never starts in the future, and the job's record keeps a time that JSON
// can hold.
func horizonStart(rec *events.SQSMessage, queued, now time.Time) time.Time {
	if a, ok := rec.MessageAttributes[AttrReplayed]; ok && a.StringValue != nil {
		if t, err := time.Parse(time.RFC3339Nano, *a.StringValue); err == nil && t.After(queued) {
			return t
		}
	}
	if queued.IsZero() {
		if ms, err := strconv.ParseInt(rec.Attributes["SentTimestamp"], 10, 64); err == nil && ms > 0 {
			if sent := time.UnixMilli(ms); sent.Before(now) {
				return sent
			}
			return now
		}
	}
	return queued
}

// lease is how long a claim must last: until the invocation's deadline,
// after which this worker cannot be sending any more.
func (h *Handler) lease(ctx context.Context) time.Duration {
	deadline, ok := ctx.Deadline()
	if !ok {
		return DefaultLease
	}
	return max(deadline.Sub(h.now()), time.Second)
}

func (h *Handler) release(ctx context.Context, log *slog.Logger, jobID, token string) {
	if err := h.Idempotency.ReleaseDelivery(ctx, jobID, token); err != nil {
		// The claim's lease runs out by itself.
		log.Warn("releasing the delivery claim failed", "error", err.Error())
	}
}

// releaseForRetry releases the claim and records the pending delivery
// with its last error, for herald deliveries.
func (h *Handler) releaseForRetry(ctx context.Context, log *slog.Logger, job *delivery.Job, token string, r delivery.Result) {
	now := h.now()
	e := delivery.EntryOf(job, delivery.StatePending)
	e.NextAttempt, e.Updated = now.Add(r.Delay), now
	if r.Err != nil {
		e.LastError = r.Err.Error()
	}
	summary, err := json.Marshal(e)
	if err == nil {
		err = h.Idempotency.ReleaseForRetry(ctx, job.ID, token, store.DeliveryRecord{
			ID: job.ID, Job: summary, LastError: e.LastError, NextAttempt: e.NextAttempt, Updated: now,
		})
	}
	if err != nil {
		// The claim's lease runs out by itself.
		log.Warn("releasing the delivery claim failed", "error", err.Error())
	}
}

// setVisibility makes the message visible again after d, in whole seconds
// rounded up and at most 12 hours.
func (h *Handler) setVisibility(ctx context.Context, log *slog.Logger, rec *events.SQSMessage, d time.Duration) {
	secs := int32(min(math.Ceil(max(d.Seconds(), 0)), MaxVisibility))
	_, err := h.Client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl:          aws.String(h.QueueURL),
		ReceiptHandle:     aws.String(rec.ReceiptHandle),
		VisibilityTimeout: secs,
	})
	if err != nil {
		// The message comes back after the queue's visibility timeout.
		log.Warn("setting the retry delay failed", "error", err.Error())
	}
}

// deadLetter sends body to the dead-letter queue with the failure reason
// and reports whether it was sent.
func (h *Handler) deadLetter(ctx context.Context, log *slog.Logger, body, reason, provider string) bool {
	attrs := map[string]types.MessageAttributeValue{
		AttrFailureReason: {DataType: aws.String("String"), StringValue: aws.String(attrValue(reason))},
	}
	if provider != "" {
		attrs[AttrProvider] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(attrValue(provider))}
	}
	_, err := h.Client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(h.DLQURL),
		MessageBody:       aws.String(body),
		MessageAttributes: attrs,
	})
	if err != nil {
		log.Error("moving the job to the dead-letter queue failed; the message will be retried", "error", err.Error())
		return false
	}
	log.Info("job moved to the dead-letter queue")
	h.Deliverer.Metrics.DeadLettered()
	return true
}

// attrValue makes s an acceptable SQS attribute value: characters SQS
// refuses become U+FFFD, and it is cut to maxReasonBytes.
func attrValue(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= 0x10FFFF:
			return r
		}
		return utf8.RuneError
	}, s)
	if len(s) <= maxReasonBytes {
		return s
	}
	cut := maxReasonBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.Default()
	}
	return h.Logger
}

func (h *Handler) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}
