package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/metrics/prom"
	"github.com/heraldhq/herald/pkg/notify"
)

// manualTimers schedules retries that run only when the test says so.
type manualTimers struct {
	added chan *manualTimer // each timer, as it is scheduled
}

func newManualTimers() *manualTimers { return &manualTimers{added: make(chan *manualTimer, 16)} }

func (m *manualTimers) AfterFunc(_ time.Duration, f func()) Timer {
	t := &manualTimer{f: f}
	m.added <- t
	return t
}

type manualTimer struct {
	mu      sync.Mutex
	f       func()
	expired bool // fired or stopped: Stop reports false
}

func (t *manualTimer) Stop() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	stopped := !t.expired
	t.expired = true
	return stopped
}

// expire makes the timer fire without running its function yet, as a
// time.Timer whose goroutine has started but not run: Stop fails.
func (t *manualTimer) expire() {
	t.mu.Lock()
	t.expired = true
	t.mu.Unlock()
}

// gate is a notifier whose first call waits for release; every call
// answers err.
type gate struct {
	err     error
	started chan struct{}
	release chan struct{}
	mu      sync.Mutex
	calls   int
}

func newGate(err error) *gate {
	return &gate{err: err, started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gate) Notify(context.Context, event.Event) (bool, error) {
	g.mu.Lock()
	g.calls++
	first := g.calls == 1
	g.mu.Unlock()
	g.started <- struct{}{}
	if first {
		<-g.release
	}
	return notify.IsRetryable(g.err), g.err
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

var errBusy = &notify.Error{Retryable: true, RetryAfter: 30 * time.Minute, Err: errors.New("busy")}

func newTestQueue(t *testing.T, n notify.Notifier, workers, capacity int) (*MemoryQueue, *manualTimers, *syncWriter) {
	t.Helper()
	logs := &syncWriter{w: &bytes.Buffer{}}
	d := &Deliverer{
		Targets: func(ProviderRef) (Target, error) { return Target{Notifier: n, Timeout: time.Minute}, nil },
		Metrics: prom.New(),
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
	}
	timers := newManualTimers()
	q := NewMemoryQueue(d, workers, capacity)
	q.AfterFunc = timers.AfterFunc
	return q, timers, logs
}

// syncWriter lets workers and the test log into one buffer.
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// String is what was written so far; a worker may still be writing.
func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}

func job(id string) Job {
	return Job{ID: id, Provider: ProviderRef{Namespace: "ns", Name: "p"}, ProviderType: "generic"}
}

func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// assertDrained checks that nothing is pending and the queue-depth gauge is
// back to zero, and that want jobs were reported as abandoned, each once.
func assertDrained(t *testing.T, q *MemoryQueue, logs *syncWriter, want ...string) {
	t.Helper()
	q.mu.Lock()
	pending := q.pending
	q.mu.Unlock()
	m := q.deliverer.Metrics.(*prom.Metrics)
	if depth := testutil.ToFloat64(m.QueueDepth); pending != 0 || depth != 0 {
		t.Errorf("pending %d, queue depth %v after Close, want 0 and 0", pending, depth)
	}
	text := logs.String()
	for _, id := range want {
		line := `"msg":"delivery abandoned at shutdown","delivery":"` + id + `"`
		if n := strings.Count(text, line); n != 1 {
			t.Errorf("job %s reported %d times, want once:\n%s", id, n, text)
		}
	}
	if n := strings.Count(text, "delivery abandoned at shutdown"); n != len(want) {
		t.Errorf("%d jobs reported abandoned, want %d:\n%s", n, len(want), text)
	}
	if got := testutil.ToFloat64(m.Deliveries.WithLabelValues("generic", metrics.OutcomeFailed, ReasonShutdown)); got != float64(len(want)) {
		t.Errorf("deliveries{outcome=failed,reason=shutdown} = %v, want %d", got, len(want))
	}
}

func TestMemoryQueueRetriesUntilDelivered(t *testing.T) {
	soon := &notify.Error{Retryable: true, RetryAfter: 10 * time.Millisecond, Err: errors.New("busy")}
	n := &scripted{script: []error{soon, soon, nil}}
	var logs bytes.Buffer
	d := newDeliverer(n, &logs)
	q := NewMemoryQueue(d, 2, 4)
	if err := q.Enqueue(context.Background(), Job{ID: "a", Provider: ProviderRef{Namespace: "ns", Name: "p"}, ProviderType: "generic"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if n.count() != 3 {
		t.Fatalf("%d attempts, want 3", n.count())
	}
	if got := testutil.ToFloat64(d.Metrics.(*prom.Metrics).QueueDepth); got != 0 {
		t.Fatalf("queue depth %v after close, want 0", got)
	}
	if err := q.Enqueue(context.Background(), Job{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Enqueue after Close = %v, want ErrClosed", err)
	}
}

// A job waiting for its retry when Close gives up is logged, and counted in
// the error.
func TestMemoryQueueCloseReportsPending(t *testing.T) {
	q, timers, logs := newTestQueue(t, &scripted{script: []error{errBusy}}, 1, 1)
	if err := q.Enqueue(context.Background(), job("pending")); err != nil {
		t.Fatal(err)
	}
	<-timers.added
	err := q.Close(cancelled())
	if err == nil || !strings.Contains(err.Error(), "1 undelivered") {
		t.Fatalf("Close() = %v, want 1 undelivered", err)
	}
	if !strings.Contains(logs.String(), `"msg":"delivery abandoned at shutdown","delivery":"pending"`) {
		t.Fatalf("the abandoned job was not logged:\n%s", logs.String())
	}
}

// Close waits for a job on its retry timer, which then delivers it.
func TestMemoryQueueCloseWaitsForRetries(t *testing.T) {
	n := &scripted{script: []error{errBusy}}
	q, timers, logs := newTestQueue(t, n, 1, 1)
	if err := q.Enqueue(context.Background(), job("a")); err != nil {
		t.Fatal(err)
	}
	timer := <-timers.added
	closed := make(chan error)
	go func() { closed <- q.Close(context.Background()) }()
	timer.f()
	if err := <-closed; err != nil {
		t.Fatalf("Close() = %v", err)
	}
	if n.count() != 2 {
		t.Fatalf("%d attempts, want 2", n.count())
	}
	assertDrained(t, q, logs)
}

// When Close stops waiting, it reports every job on a retry timer, whether
// the timer could still be stopped or had fired already; a timer that fires
// after Close neither delivers nor reports its job again.
func TestMemoryQueueCloseReportsJobsOnTimers(t *testing.T) {
	n := &scripted{script: []error{errBusy, errBusy}}
	q, timers, logs := newTestQueue(t, n, 1, 4)
	if err := q.Enqueue(context.Background(), job("a"), job("b")); err != nil {
		t.Fatal(err)
	}
	late := <-timers.added // a's: it fires, but its function has not run yet
	<-timers.added         // b's: Close can still stop it
	late.expire()
	err := q.Close(cancelled())
	if err == nil || err.Error() != "delivery queue closed with 2 undelivered jobs" {
		t.Fatalf("Close() = %v, want 2 undelivered", err)
	}
	assertDrained(t, q, logs, "a", "b")

	late.f()
	if n.count() != 2 {
		t.Errorf("%d attempts, want 2: a retry ran after Close", n.count())
	}
	assertDrained(t, q, logs, "a", "b")
}

// An attempt that fails after Close stopped waiting schedules no retry: its
// job is reported.
func TestMemoryQueueCloseReportsAttemptInFlight(t *testing.T) {
	n := newGate(errBusy)
	q, timers, logs := newTestQueue(t, n, 1, 1)
	if err := q.Enqueue(context.Background(), job("a")); err != nil {
		t.Fatal(err)
	}
	<-n.started
	closed := make(chan error)
	go func() { closed <- q.Close(cancelled()) }()
	<-q.stop // Close has stopped waiting
	close(n.release)
	if err := <-closed; err == nil || err.Error() != "delivery queue closed with 1 undelivered jobs" {
		t.Fatalf("Close() = %v, want 1 undelivered", err)
	}
	if len(timers.added) != 0 {
		t.Error("a retry was scheduled after Close")
	}
	assertDrained(t, q, logs, "a")
}

// An Enqueue waiting for room when Close stops waiting returns: every job
// it was given is delivered, reported, or refused with ErrClosed.
func TestMemoryQueueCloseEndsWaitingEnqueue(t *testing.T) {
	n := newGate(nil)
	q, _, logs := newTestQueue(t, n, 1, 1)
	enqueued := make(chan error)
	go func() {
		// A safety net for the code before the fix, where this Enqueue
		// could wait forever; the fixed code never reaches it.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		enqueued <- q.Enqueue(ctx, job("a"), job("b"), job("c"))
	}()
	<-n.started // a is in flight, so the Enqueue of b and c has begun
	closed := make(chan error)
	go func() { closed <- q.Close(cancelled()) }()
	<-q.stop
	close(n.release)
	closeErr := <-closed
	err := <-enqueued
	reported := strings.Count(logs.String(), "delivery abandoned at shutdown")
	switch {
	case errors.Is(err, ErrClosed):
		if n.count()+reported >= 3 {
			t.Errorf("Enqueue refused jobs it had queued: %d delivered, %d reported", n.count(), reported)
		}
	case err == nil:
		if n.count()+reported != 3 {
			t.Errorf("jobs lost: %d delivered, %d reported of 3", n.count(), reported)
		}
	default:
		t.Fatalf("Enqueue() = %v, want nil or ErrClosed", err)
	}
	// Close counts the jobs it gave up, not those delivered meanwhile.
	if want := fmt.Sprintf("delivery queue closed with %d undelivered jobs", reported); reported > 0 && (closeErr == nil || closeErr.Error() != want) ||
		reported == 0 && closeErr != nil {
		t.Errorf("Close() = %v with %d jobs reported", closeErr, reported)
	}
	q.mu.Lock()
	pending := q.pending
	q.mu.Unlock()
	if depth := testutil.ToFloat64(q.deliverer.Metrics.(*prom.Metrics).QueueDepth); pending != 0 || depth != 0 {
		t.Errorf("pending %d, queue depth %v after Close, want 0 and 0", pending, depth)
	}
}

// An attempt that hangs does not hold Close past its context: Close
// cancels it, and the job is given up (kept, with a journal) like any
// other left at shutdown. The Provider's timeout here is a minute.
func TestMemoryQueueCloseCancelsHangingAttempt(t *testing.T) {
	q, _, logs := newTestQueue(t, waitsForDeadline{}, 1, 1)
	if err := q.Enqueue(context.Background(), job("hangs")); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	if err == nil || err.Error() != "delivery queue closed with 1 undelivered jobs" {
		t.Fatalf("Close() = %v, want 1 undelivered", err)
	}
	if waited := time.Since(start); waited > 30*time.Second {
		t.Fatalf("Close waited %s for an attempt with a minute's timeout", waited)
	}
	assertDrained(t, q, logs, "hangs")
}
