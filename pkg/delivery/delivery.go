// Package delivery sends queued notifications: one job per (event, Alert,
// Provider), one attempt at a time, with the retry schedule every queue
// shares. The in-process queue serves local mode; the SQS queue serves AWS.
package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store"
)

// DefaultMaxAge is how long a delivery is retried before it is given up:
// an hour, so that a provider's outage of that length loses nothing.
const DefaultMaxAge = time.Hour

// Retry schedule: 2 s doubling to a 5 minute cap, unless the provider asks
// for another delay with Retry-After. With the cap, a provider that comes
// back is tried again within 5 minutes however long it was away.
const (
	InitialDelay = 2 * time.Second
	MaxDelay     = 5 * time.Minute
)

// ProviderRef names the Provider of a job.
type ProviderRef struct {
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

func (r ProviderRef) String() string {
	if r.Cluster == "" {
		return r.Namespace + "/" + r.Name
	}
	return r.Cluster + ":" + r.Namespace + "/" + r.Name
}

// Job is one notification to send: the event as the Provider must see it
// (metadata combined), and where to send it.
type Job struct {
	// ID identifies the delivery for idempotency; see JobID.
	ID           string      `json:"id"`
	Event        event.Event `json:"event"`
	Provider     ProviderRef `json:"provider"`
	ProviderType string      `json:"providerType"`
	// Alert is the namespace/name of the Alert that selected the event.
	Alert string `json:"alert"`
	// CommitStatus is the id of the commit status to set, for the Git
	// commit-status providers; the dispatcher computes it (§2.2 step 9).
	CommitStatus string `json:"commitStatus,omitempty"`
	// Attempt counts the attempts made so far.
	Attempt int `json:"attempt"`
	// Queued is when the job was queued, or replayed from the dead
	// letters: the start of its retry horizon (Deliverer.MaxAge). A queue
	// sets it when it is zero.
	Queued time.Time `json:"queued,omitzero"`
}

// JobID derives a delivery's id from the event's de-duplication key, its
// timestamp, the Alert and the Provider, so that the same event queued twice
// for the same route has the same id.
func JobID(dedupKey string, ts event.Time, alertUID string, p ProviderRef) string {
	h := sha256.New()
	for _, s := range []string{dedupKey, ts.UTC().Format(time.RFC3339), alertUID, p.String()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Backoff is the delay before the attempt that follows attempt number n
// (1-based): min(2s·2ⁿ⁻¹, 5m), so 2 s, 4 s, … 256 s, then 5 minutes. The
// shift stops at 8, past the cap, so that no n overflows.
func Backoff(n int) time.Duration {
	return min(InitialDelay<<min(max(n, 1)-1, 8), MaxDelay)
}

// AttemptsWithin is how many attempts the schedule makes in a horizon of
// maxAge when every attempt fails at once and no Retry-After is given: the
// first, and each one whose time is still within maxAge of the first.
func AttemptsWithin(maxAge time.Duration) int {
	n, at := 1, time.Duration(0)
	for at+Backoff(n) <= maxAge {
		at += Backoff(n)
		n++
	}
	return n
}

// Target is what a job is delivered with, resolved when it is attempted so
// that a reloaded config applies to queued jobs.
type Target struct {
	Notifier notify.Notifier
	Timeout  time.Duration
	// Release, when set, is called once the attempt is over: the owner of
	// the notifier closes a replaced one only when no attempt uses it.
	Release func()
}

// TargetFunc finds the Target of a Provider.
type TargetFunc func(ProviderRef) (Target, error)

// Decision is what happens to a job after an attempt.
type Decision int

const (
	// Done: delivered, or skipped on purpose.
	Done Decision = iota
	// RetryLater: try again after Result.Delay.
	RetryLater
	// GiveUp: a permanent failure or the last attempt; the job is dead-lettered.
	GiveUp
)

// Result is the outcome of one attempt.
type Result struct {
	Decision Decision
	Delay    time.Duration
	Err      error
	// Reason says why a job was given up.
	Reason string
	// Failure classifies Err for metrics: one of notify's Reason
	// constants, or "" when the attempt succeeded.
	Failure string
}

// Reasons for giving up a job.
const (
	ReasonPermanent = "permanent failure"
	// ReasonExpired: the next retry would fall after the job's horizon.
	ReasonExpired    = "max delivery age reached"
	ReasonNoProvider = "provider unavailable"
	// ReasonShutdown: herald serve stopped with the job still queued. It
	// is also the job's failure label in metrics.
	ReasonShutdown = "shutdown"
)

// Deliverer makes one attempt of a job and decides what comes next. It logs
// one line per outcome and records the metrics; queues act on the decision.
type Deliverer struct {
	Targets TargetFunc
	// MaxAge is the retry horizon: a failed job is retried while its next
	// attempt falls within MaxAge of Job.Queued, and given up after.
	// Default DefaultMaxAge.
	MaxAge  time.Duration
	Metrics metrics.Recorder
	Logger  *slog.Logger
	// Order, when set, keeps a late delivery from overwriting a Git commit
	// status or comment that a newer event set.
	Order store.StatusOrder
	// Now is the clock of the horizon; default time.Now.
	Now func() time.Time
	// RetryScale multiplies every retry delay when positive: tests play
	// an outage of an hour in seconds with it. Zero means 1.
	RetryScale float64
}

// ErrProviderMissing is returned when a job's Provider no longer exists.
var ErrProviderMissing = errors.New("provider not found")

// ErrConfigNotLoaded is returned by a TargetFunc while no config has loaded
// yet. It passes by itself, so the job is retried.
var ErrConfigNotLoaded = errors.New("config not loaded yet")

// Attempt delivers job once, incrementing job.Attempt.
func (d *Deliverer) Attempt(ctx context.Context, job *Job) Result {
	job.Attempt++
	if job.Queued.IsZero() {
		job.Queued = d.now()
	}
	target, err := d.Targets(job.Provider)
	if err != nil {
		if transient(err) {
			failure := notify.FailureReason(err)
			if errors.Is(err, ErrConfigNotLoaded) {
				failure = notify.ReasonConfig
			}
			return d.retry(job, err, failure, 0)
		}
		// A missing or broken Provider is a config problem: retrying cannot
		// help until the config is fixed, and then the job can be replayed.
		return d.finish(job, Result{Decision: GiveUp, Err: err, Reason: ReasonNoProvider, Failure: notify.ReasonConfig}, 0)
	}
	if target.Release != nil {
		defer target.Release()
	}
	if target.Notifier == nil {
		d.Metrics.DeliveryOutcome(job.ProviderType, metrics.OutcomeSkipped, "")
		d.Logger.Info("delivery skipped", d.attrs(job, "reason", "provider suspended")...)
		return Result{Decision: Done}
	}
	if key, ok := orderKey(job); ok && d.Order != nil {
		newest, err := d.Order.Advance(ctx, key, job.Event.Timestamp.Time)
		if err != nil {
			return d.retry(job, err, notify.FailureReason(err), 0)
		}
		if !newest {
			d.Metrics.DeliveryOutcome(job.ProviderType, metrics.OutcomeSkipped, ReasonSuperseded)
			d.Logger.Info("delivery skipped: a newer event already set this status", d.attrs(job, "reason", ReasonSuperseded)...)
			return Result{Decision: Done}
		}
	}
	timeout := target.Timeout
	if timeout <= 0 {
		timeout = notify.DefaultTimeout
	}
	attemptCtx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	retry, err := notifyOnce(attemptCtx, target.Notifier, job)
	if err != nil && attemptCtx.Err() == context.DeadlineExceeded {
		err = namedTimeout(ctx, err, timeout)
	}
	cancel()
	elapsed := time.Since(start)
	d.Metrics.DeliveryAttempt(job.ProviderType, elapsed)

	switch {
	case err == nil:
		return d.finish(job, Result{Decision: Done}, elapsed)
	case !retry:
		return d.finish(job, Result{Decision: GiveUp, Err: err, Reason: ReasonPermanent, Failure: notify.FailureReason(err)}, elapsed)
	}
	return d.retry(job, err, notify.FailureReason(err), elapsed)
}

// notifyOnce makes the attempt: a commit-status provider gets the status id
// the dispatcher planned, any other the event alone.
func notifyOnce(ctx context.Context, n notify.Notifier, job *Job) (bool, error) {
	if sn, ok := n.(notify.StatusNotifier); ok && job.CommitStatus != "" {
		return sn.NotifyCommitStatus(ctx, job.Event, job.CommitStatus)
	}
	return n.Notify(ctx, job.Event)
}

// namedTimeout says which deadline ended an attempt: the Provider's
// timeout, or the caller's (a Lambda invocation about to end, a shutdown),
// so that a log line or a dead letter tells a slow provider from a short
// invocation. The error keeps its classification.
func namedTimeout(caller context.Context, err error, timeout time.Duration) error {
	if caller.Err() != nil {
		return fmt.Errorf("%w (the invocation's deadline passed before the provider answered)", err)
	}
	return fmt.Errorf("%w (the Provider's timeout of %s ran out; set spec.timeout to change it)", err, timeout)
}

// retry schedules the next attempt after a failure that may pass, unless
// it would fall after the job's horizon.
func (d *Deliverer) retry(job *Job, err error, failure string, elapsed time.Duration) Result {
	delay, ok := notify.RetryAfter(err)
	if !ok {
		delay = Backoff(job.Attempt)
	}
	if d.RetryScale > 0 {
		delay = time.Duration(float64(delay) * d.RetryScale)
	}
	if d.now().Add(delay).Sub(job.Queued) > d.maxAge() {
		err = fmt.Errorf("%w (retried for %s of the max delivery age of %s)", err, d.now().Sub(job.Queued).Round(time.Second), d.maxAge())
		return d.finish(job, Result{Decision: GiveUp, Err: err, Reason: ReasonExpired, Failure: failure}, elapsed)
	}
	return d.finish(job, Result{Decision: RetryLater, Delay: delay, Err: err, Failure: failure}, elapsed)
}

// transient reports whether a TargetFunc error may pass without a config
// change: no config loaded yet, or a failure its source classified as
// retryable (a throttled or timed-out secret read). Anything else, a
// missing Provider, secret or key, is permanent.
func transient(err error) bool {
	var e *notify.Error
	return errors.Is(err, ErrConfigNotLoaded) || errors.As(err, &e) && e.Retryable
}

func (d *Deliverer) maxAge() time.Duration {
	if d.MaxAge <= 0 {
		return DefaultMaxAge
	}
	return d.MaxAge
}

func (d *Deliverer) now() time.Time {
	if d.Now == nil {
		return time.Now()
	}
	return d.Now()
}

func (d *Deliverer) finish(job *Job, r Result, elapsed time.Duration) Result {
	attrs := d.attrs(job, "duration_ms", elapsed.Milliseconds())
	switch r.Decision {
	case Done:
		d.Metrics.DeliveryOutcome(job.ProviderType, metrics.OutcomeDelivered, "")
		d.Logger.Info("delivered", attrs...)
	case RetryLater:
		d.Metrics.DeliveryOutcome(job.ProviderType, metrics.OutcomeRetry, r.Failure)
		d.Logger.Warn("delivery failed, will retry", append(attrs, "error", r.Err.Error(), "failure", r.Failure, "retry_in", r.Delay.String())...)
	case GiveUp:
		d.Metrics.DeliveryOutcome(job.ProviderType, metrics.OutcomeFailed, r.Failure)
		d.Logger.Error("delivery failed, giving up", append(attrs, "error", r.Err.Error(), "failure", r.Failure, "reason", r.Reason)...)
	}
	return r
}

func (d *Deliverer) attrs(job *Job, extra ...any) []any {
	return append([]any{
		"delivery", job.ID,
		"provider", job.Provider.String(),
		"provider_type", job.ProviderType,
		"alert", job.Alert,
		"object", job.Event.InvolvedObject.Kind + "/" + job.Event.InvolvedObject.Namespace + "/" + job.Event.InvolvedObject.Name,
		"attempt", job.Attempt,
	}, extra...)
}
