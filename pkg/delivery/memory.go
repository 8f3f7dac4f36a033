package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/metrics"
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
// number of workers, with retries scheduled on timers. Jobs live only in
// memory; a job still pending at shutdown is logged, not silently lost.
type MemoryQueue struct {
	// AfterFunc schedules a retry: f runs after d unless the Timer is
	// stopped first. Nil means time.AfterFunc. Set it before the first
	// Enqueue.
	AfterFunc func(d time.Duration, f func()) Timer

	deliverer *Deliverer
	jobs      chan *Job

	mu        sync.Mutex
	closed    bool // Enqueue refuses jobs
	stopping  bool // Close waits no longer: no retry is scheduled or resumed
	pending   int  // queued, in flight, or waiting for a retry
	abandoned int  // given up by Close
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
			q.done(len(jobs) - i)
			return ctx.Err()
		case <-q.stop:
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
	r := q.deliverer.Attempt(context.Background(), job)
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
// error line with the reason, and a failed delivery counted.
func (q *MemoryQueue) abandon(job *Job) {
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
// the count is returned in the error.
func (q *MemoryQueue) Close(ctx context.Context) error {
	q.mu.Lock()
	q.closed = true
	idle := make(chan struct{})
	if q.pending == 0 {
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
	q.workers.Wait()
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
	n := q.abandoned
	q.mu.Unlock()
	if n > 0 {
		return fmt.Errorf("delivery queue closed with %d undelivered jobs", n)
	}
	return nil
}
