package delivery

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Queue accepts jobs for delivery.
type Queue interface {
	Enqueue(ctx context.Context, jobs ...Job) error
}

// ErrClosed is returned by Enqueue after Close.
var ErrClosed = errors.New("delivery queue closed")

// MemoryQueue is local mode's queue: a bounded channel drained by a fixed
// number of workers, with retries scheduled on timers. Jobs live only in
// memory; a job still pending at shutdown is logged, not silently lost.
type MemoryQueue struct {
	deliverer *Deliverer
	jobs      chan *Job

	mu      sync.Mutex
	closed  bool
	pending int // queued, in flight, or waiting for a retry
	timers  map[*Job]*time.Timer
	idle    chan struct{} // closed when pending drops to 0 after Close
	stop    chan struct{} // tells workers to exit
	workers sync.WaitGroup
}

// NewMemoryQueue starts workers goroutines delivering with d. capacity bounds
// the jobs waiting for a worker; Enqueue blocks while it is full.
func NewMemoryQueue(d *Deliverer, workers, capacity int) *MemoryQueue {
	q := &MemoryQueue{
		deliverer: d,
		jobs:      make(chan *Job, capacity),
		timers:    make(map[*Job]*time.Timer),
		stop:      make(chan struct{}),
	}
	for range max(workers, 1) {
		q.workers.Add(1)
		go q.work()
	}
	return q
}

// Enqueue adds jobs. It waits for room, up to ctx.
func (q *MemoryQueue) Enqueue(ctx context.Context, jobs ...Job) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.pending += len(jobs)
	q.mu.Unlock()
	q.deliverer.Metrics.QueueDepthChange(len(jobs))
	for i := range jobs {
		job := jobs[i]
		select {
		case q.jobs <- &job:
		case <-ctx.Done():
			q.done(len(jobs) - i)
			return ctx.Err()
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
	defer q.mu.Unlock()
	q.timers[job] = time.AfterFunc(r.Delay, func() {
		q.mu.Lock()
		delete(q.timers, job)
		q.mu.Unlock()
		// The send may wait for room; a retry never drops a job.
		select {
		case q.jobs <- job:
		case <-q.stop:
			q.abandon(job)
		}
	})
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

func (q *MemoryQueue) abandon(job *Job) {
	q.deliverer.Logger.Error("delivery abandoned at shutdown", q.deliverer.attrs(job, "reason", "shutdown")...)
	q.done(1)
}

// Close stops accepting jobs and waits, up to ctx, for the queued ones and
// their retries. Jobs still pending then are logged one by one and dropped,
// and the count is returned in the error.
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

	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		q.mu.Lock()
		n := q.pending
		for job, t := range q.timers {
			if t.Stop() {
				delete(q.timers, job)
				q.deliverer.Logger.Error("delivery abandoned at shutdown", q.deliverer.attrs(job, "reason", "shutdown")...)
			}
		}
		q.mu.Unlock()
		err = fmt.Errorf("delivery queue closed with %d undelivered jobs", n)
	}
	close(q.stop)
	q.workers.Wait()
	for {
		select {
		case job := <-q.jobs:
			q.abandon(job)
		default:
			return err
		}
	}
}
