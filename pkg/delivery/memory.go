package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/store"
)

// Queue accepts jobs for delivery.
type Queue interface {
	Enqueue(ctx context.Context, jobs ...Job) error
}

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("delivery queue closed")

// Timer is a scheduled retry; *time.Timer is one. Stop reports whether it
// kept the retry from starting.
type Timer interface {
	Stop() bool
}

// MemoryQueue is local mode's queue: a bounded channel drained by a fixed
// number of workers, with retries scheduled on timers. With a Journal,
// every job is on disk from before Enqueue returns until it is delivered or
// dead-lettered, and Resume takes up after a restart what a crash or a
// shutdown left. Without one, jobs live only in memory, and a job still
// pending at shutdown is logged, not silently lost.
type MemoryQueue struct {
	// AfterFunc schedules a retry: f runs after d unless the Timer is
	// stopped first. Nil means time.AfterFunc. Set it before the first
	// Enqueue.
	AfterFunc func(d time.Duration, f func()) Timer
	// Journal, when set, keeps the jobs across restarts. Set it before
	// the first Enqueue.
	Journal store.DeliveryJournal

	deliverer *Deliverer
	jobs      chan *Job
	// attempts is the context of every attempt: Close cancels it when it
	// stops waiting, so that a provider that hangs cannot hold a shutdown
	// for its whole timeout.
	attempts       context.Context
	cancelAttempts context.CancelFunc

	mu        sync.Mutex
	closed    bool // Enqueue refuses jobs
	stopping  bool // Close waits no longer: no retry is scheduled or resumed
	pending   int  // queued, in flight, or waiting for a retry
	abandoned int  // given up by Close
	kept      int  // left in the journal by Close
	timers    map[*Job]Timer
	idle      chan struct{} // closed when pending drops to 0 after Close
	stop      chan struct{} // tells workers, Enqueue and retries to stop
	workers   sync.WaitGroup
	// handoffs counts the Enqueue calls and resumed retries that may still
	// put a job on the channel: Close waits for them before its last drain,
	// so that nothing lands there after it.
	handoffs sync.WaitGroup
}

// NewMemoryQueue starts workers goroutines delivering with d. capacity bounds
// the jobs waiting for a worker; Enqueue blocks while it is full.
func NewMemoryQueue(d *Deliverer, workers, capacity int) *MemoryQueue {
	q := &MemoryQueue{
		deliverer: d,
		jobs:      make(chan *Job, capacity),
		timers:    make(map[*Job]Timer),
		stop:      make(chan struct{}),
	}
	q.attempts, q.cancelAttempts = context.WithCancel(context.Background())
	for range max(workers, 1) {
		q.workers.Add(1)
		go q.work()
	}
	return q
}

// Enqueue adds jobs. It waits for room, up to ctx or until Close stops
// waiting for jobs; the jobs not queued then are not the queue's, and the
// error says so.
func (q *MemoryQueue) Enqueue(ctx context.Context, jobs ...Job) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.mu.Unlock()
	if q.Journal != nil {
		// On disk first: once the caller answers 202, a crash loses nothing.
		now := q.deliverer.now()
		recs := make([]store.DeliveryRecord, len(jobs))
		for i := range jobs {
			if jobs[i].Queued.IsZero() {
				jobs[i].Queued = now
			}
			body, err := jobs[i].AppendJSON(make([]byte, 0, 1024))
			if err != nil {
				return fmt.Errorf("encoding delivery %s: %w", jobs[i].ID, err)
			}
			recs[i] = store.DeliveryRecord{ID: jobs[i].ID, Job: body, Updated: now}
		}
		if err := q.Journal.PutDeliveries(ctx, recs...); err != nil {
			return fmt.Errorf("recording deliveries: %w", err)
		}
	}
	q.mu.Lock()
	if q.closed {
		// Recorded: the next start delivers them.
		q.mu.Unlock()
		if q.Journal != nil {
			return nil
		}
		return ErrClosed
	}
	q.pending += len(jobs)
	q.handoffs.Add(1)
	q.mu.Unlock()
	defer q.handoffs.Done()
	q.deliverer.Metrics.QueueDepthChange(len(jobs))
	for i := range jobs {
		job := jobs[i]
		select {
		case q.jobs <- &job:
		case <-ctx.Done():
			if q.Journal != nil {
				// Recorded, so accepted: they wait for room on timers,
				// or for the next start if Close has begun.
				q.mu.Lock()
				if q.stopping {
					q.kept += len(jobs) - i
					q.mu.Unlock()
					q.done(len(jobs) - i)
					return nil
				}
				for _, rest := range jobs[i:] {
					job := &rest
					q.timers[job] = q.after(0, func() { q.resume(job) })
				}
				q.mu.Unlock()
				return nil
			}
			q.done(len(jobs) - i)
			return ctx.Err()
		case <-q.stop:
			if q.Journal != nil {
				q.mu.Lock()
				q.kept += len(jobs) - i
				q.mu.Unlock()
				q.done(len(jobs) - i)
				return nil
			}
			q.done(len(jobs) - i)
			return ErrClosed
		}
	}
	return nil
}

func (q *MemoryQueue) work() {
	defer q.workers.Done()
	for {
		select {
		case job := <-q.jobs:
			q.deliver(job)
		case <-q.stop:
			return
		}
	}
}

func (q *MemoryQueue) deliver(job *Job) {
	r := q.deliverer.Attempt(q.attempts, job)
	q.record(job, r)
	if r.Decision != RetryLater {
		q.done(1)
		return
	}
	q.mu.Lock()
	if q.stopping {
		q.mu.Unlock()
		q.abandon(job)
		return
	}
	// The timer's function waits for q.mu, so it finds its entry.
	q.timers[job] = q.after(r.Delay, func() { q.resume(job) })
	q.mu.Unlock()
}

func (q *MemoryQueue) after(d time.Duration, f func()) Timer {
	if q.AfterFunc != nil {
		return q.AfterFunc(d, f)
	}
	return time.AfterFunc(d, f)
}

// record writes the outcome of an attempt to the journal: a delivered job
// is deleted, a failed one rewritten with its attempt count, last error and
// next attempt, or kept as a dead letter. A failed write is logged: the job
// goes on in memory, and at worst a restart repeats an attempt.
func (q *MemoryQueue) record(job *Job, r Result) {
	if q.Journal == nil {
		return
	}
	ctx := context.Background()
	var err error
	switch r.Decision {
	case Done:
		err = q.Journal.DeleteDelivery(ctx, job.ID)
	default:
		var body []byte
		if body, err = json.Marshal(job); err != nil {
			break
		}
		now := q.deliverer.now()
		rec := store.DeliveryRecord{ID: job.ID, Job: body, Updated: now}
		if r.Err != nil {
			rec.LastError = r.Err.Error()
		}
		if r.Decision == RetryLater {
			rec.NextAttempt = now.Add(r.Delay)
		} else {
			rec.Dead, rec.Reason = true, r.Reason
		}
		err = q.Journal.PutDeliveries(ctx, rec)
		if err == nil && rec.Dead {
			q.deliverer.Metrics.DeadLettered()
		}
	}
	if err != nil {
		q.deliverer.Logger.Error("recording the delivery's outcome failed", q.deliverer.attrs(job, "error", err.Error())...)
	}
}

// Resume queues the pending deliveries of the journal, each at its next
// attempt: what a shutdown or a crash left. Call it once, before the first
// Enqueue. It returns how many it queued; a record that is not a job is
// dead-lettered with reason "malformed job".
func (q *MemoryQueue) Resume(ctx context.Context) (int, error) {
	if q.Journal == nil {
		return 0, nil
	}
	recs, err := q.Journal.ListDeliveries(ctx, false)
	if err != nil {
		return 0, fmt.Errorf("reading pending deliveries: %w", err)
	}
	now := q.deliverer.now()
	jobs := make([]*Job, 0, len(recs))
	delays := make([]time.Duration, 0, len(recs))
	for _, rec := range recs {
		job := new(Job)
		if err := json.Unmarshal(rec.Job, job); err != nil || job.ID != rec.ID {
			rec.Dead, rec.Reason, rec.Updated = true, ReasonMalformed, now
			if err := q.Journal.PutDeliveries(ctx, rec); err != nil {
				return 0, fmt.Errorf("dead-lettering malformed delivery %s: %w", rec.ID, err)
			}
			q.deliverer.Logger.Error("pending delivery is not a job; dead-lettered", "delivery", rec.ID, "reason", ReasonMalformed)
			continue
		}
		jobs = append(jobs, job)
		delays = append(delays, max(rec.NextAttempt.Sub(now), 0))
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0, ErrClosed
	}
	q.pending += len(jobs)
	q.deliverer.Metrics.QueueDepthChange(len(jobs))
	for i, job := range jobs {
		q.timers[job] = q.after(delays[i], func() { q.resume(job) })
	}
	return len(jobs), nil
}

// ReasonMalformed is the reason of a dead letter that is not a job.
const ReasonMalformed = "malformed job"

// resume hands a job whose retry timer fired back to the workers, unless
// Close took it first.
func (q *MemoryQueue) resume(job *Job) {
	q.mu.Lock()
	if _, ok := q.timers[job]; !ok {
		q.mu.Unlock()
		return
	}
	delete(q.timers, job)
	q.handoffs.Add(1)
	q.mu.Unlock()
	defer q.handoffs.Done()
	// The send may wait for room; a retry never drops a job.
	select {
	case q.jobs <- job:
	case <-q.stop:
		q.abandon(job)
	}
}

// done marks n jobs as finished.
func (q *MemoryQueue) done(n int) {
	q.deliverer.Metrics.QueueDepthChange(-n)
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending -= n
	if q.pending == 0 && q.idle != nil {
		close(q.idle)
		q.idle = nil
	}
}

// abandon gives up a job at shutdown as the Deliverer gives one up: one
// error line with the reason, and a failed delivery counted. With a
// journal, the job is not given up: it stays there for the next start.
func (q *MemoryQueue) abandon(job *Job) {
	if q.Journal != nil {
		q.mu.Lock()
		q.kept++
		q.mu.Unlock()
		q.done(1)
		return
	}
	q.deliverer.Metrics.DeliveryOutcome(job.ProviderType, metrics.OutcomeFailed, ReasonShutdown)
	q.deliverer.Logger.Error("delivery abandoned at shutdown", q.deliverer.attrs(job, "reason", ReasonShutdown)...)
	q.mu.Lock()
	q.abandoned++
	q.mu.Unlock()
	q.done(1)
}

// Close stops accepting jobs and waits, up to ctx, for the queued ones and
// their retries. Jobs still pending then, queued, waiting for a retry or
// failing an attempt still running, are logged one by one and dropped, and
// the count is returned in the error. With a journal, Close waits only for
// the attempts in flight: the jobs still pending are on disk, and the next
// start resumes them. An attempt still running when ctx ends is cancelled.
func (q *MemoryQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	idle := make(chan struct{})
	if q.pending == 0 || q.Journal != nil {
		close(idle)
	} else {
		q.idle = idle
	}
	q.mu.Unlock()

	select {
	case <-idle:
	case <-ctx.Done():
	}

	// Take the jobs waiting for a retry. A timer that fired already finds
	// its job gone, or took it first and is one of the handoffs.
	q.mu.Lock()
	q.stopping = true
	waiting := make([]*Job, 0, len(q.timers))
	for job, t := range q.timers {
		t.Stop()
		waiting = append(waiting, job)
	}
	clear(q.timers)
	q.mu.Unlock()
	for _, job := range waiting {
		q.abandon(job)
	}

	close(q.stop)
	// Attempts in flight may finish until ctx ends; then they are
	// cancelled, and their jobs kept or given up like the others.
	workersDone := make(chan struct{})
	go func() { q.workers.Wait(); close(workersDone) }()
	select {
	case <-workersDone:
	case <-ctx.Done():
		q.cancelAttempts()
		<-workersDone
	}
	q.cancelAttempts()
	q.handoffs.Wait()
	for drained := false; !drained; {
		select {
		case job := <-q.jobs:
			q.abandon(job)
		default:
			drained = true
		}
	}
	q.mu.Lock()
	n, kept := q.abandoned, q.kept
	q.mu.Unlock()
	if kept > 0 {
		q.deliverer.Logger.Info("pending deliveries kept for the next start", "deliveries", kept)
	}
	if n > 0 {
		return fmt.Errorf("delivery queue closed with %d undelivered jobs", n)
	}
	return nil
}
