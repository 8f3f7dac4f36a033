package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/metrics/prom"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store/memory"
)

func TestBackoffSchedule(t *testing.T) {
	want := []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second, 32 * time.Second,
		64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := Backoff(i + 1); got != w {
			t.Errorf("Backoff(%d) = %v, want %v", i+1, got, w)
		}
	}
	// Out of range: before the first attempt, and so late a shift would
	// overflow.
	for _, n := range []int{0, -1, 10, 64, 1 << 20} {
		want := MaxDelay
		if n < 1 {
			want = InitialDelay
		}
		if got := Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}

// TestAttemptsWithin checks the attempts the schedule makes in a horizon,
// from which the SAM template's maxReceiveCount is derived: within an hour,
// nine attempts take 510 s, then one every 5 minutes.
func TestAttemptsWithin(t *testing.T) {
	for _, c := range []struct {
		age  time.Duration
		want int
	}{
		{0, 1},
		{time.Second, 1},
		{2 * time.Second, 2},
		{510 * time.Second, 9},
		{810*time.Second - 1, 9},
		{810 * time.Second, 10},
		{time.Hour, 9 + 10},       // 510 s + 10 × 300 s = 3510 s
		{24 * time.Hour, 9 + 286}, // 510 s + 286 × 300 s = 86310 s
	} {
		if got := AttemptsWithin(c.age); got != c.want {
			t.Errorf("AttemptsWithin(%v) = %d, want %d", c.age, got, c.want)
		}
	}
}

// scripted answers each Notify call with the next outcome of its script.
type scripted struct {
	mu     sync.Mutex
	script []error
	calls  int
	got    []event.Event
}

func (s *scripted) Notify(_ context.Context, ev event.Event) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, ev)
	var err error
	if s.calls < len(s.script) {
		err = s.script[s.calls]
	}
	s.calls++
	return notify.IsRetryable(err), err
}

func (s *scripted) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// targetErrors are what Targets answers for these Provider names.
var targetErrors = map[string]error{
	"missing":  ErrProviderMissing,
	"unloaded": ErrConfigNotLoaded,
	// As a Secrets Manager lookup fails through notify.Resolve.
	"secret-throttled": fmt.Errorf("failed to get secret 'ns/s': %w",
		notify.Retryable(errors.New("secretsmanager GetSecretValue herald/ns/s: ThrottlingException: Rate exceeded"))),
	"secret-missing": fmt.Errorf("failed to get secret 'ns/s': %w", errors.New("secret 'ns/s' not found")),
	"key-missing":    errors.New("invalid address in secret 'ns/s'"),
}

func newDeliverer(n notify.Notifier, logs *bytes.Buffer) *Deliverer {
	return &Deliverer{
		Targets: func(ref ProviderRef) (Target, error) {
			if err, ok := targetErrors[ref.Name]; ok {
				return Target{}, err
			}
			return Target{Notifier: n, Timeout: time.Second}, nil
		},
		MaxAge:  time.Hour,
		Metrics: prom.New(),
		Logger:  slog.New(slog.NewJSONHandler(logs, nil)),
		Now:     func() time.Time { return testNow },
	}
}

var testNow = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func TestAttemptDecisions(t *testing.T) {
	unavailable := &notify.Error{Retryable: true, StatusCode: 503, Err: errors.New("request failed with status code 503: busy")}
	throttled := &notify.Error{Retryable: true, RetryAfter: 7 * time.Second, StatusCode: 429, Err: errors.New("request failed with status code 429")}
	badRequest := notify.Permanent(errors.New("request failed with status code 400: bad"))
	tests := []struct {
		name     string
		err      error
		attempt  int           // attempts made before this one
		age      time.Duration // since the job was queued
		provider string
		want     Decision
		delay    time.Duration
		reason   string
		outcome  string
		failure  string
	}{
		{name: "delivered", want: Done, outcome: metrics.OutcomeDelivered},
		{name: "retryable", err: unavailable, want: RetryLater, delay: 2 * time.Second, outcome: metrics.OutcomeRetry, failure: notify.ReasonServerError},
		{name: "retryable, later attempt", err: unavailable, attempt: 1, want: RetryLater, delay: 4 * time.Second, outcome: metrics.OutcomeRetry, failure: notify.ReasonServerError},
		{name: "retry-after wins", err: throttled, want: RetryLater, delay: 7 * time.Second, outcome: metrics.OutcomeRetry, failure: notify.ReasonRateLimited},
		{name: "permanent", err: badRequest, want: GiveUp, reason: ReasonPermanent, outcome: metrics.OutcomeFailed, failure: notify.ReasonClientError},
		{name: "retryable, near the horizon", err: unavailable, age: time.Hour - 2*time.Second, want: RetryLater, delay: 2 * time.Second, outcome: metrics.OutcomeRetry, failure: notify.ReasonServerError},
		{name: "horizon reached", err: unavailable, age: time.Hour - time.Second, want: GiveUp, reason: ReasonExpired, outcome: metrics.OutcomeFailed, failure: notify.ReasonServerError},
		{name: "horizon reached, capped back-off", err: unavailable, attempt: 20, age: 56 * time.Minute, want: GiveUp, reason: ReasonExpired, outcome: metrics.OutcomeFailed, failure: notify.ReasonServerError},
		{name: "capped back-off within the horizon", err: unavailable, attempt: 20, age: 55 * time.Minute, want: RetryLater, delay: 5 * time.Minute, outcome: metrics.OutcomeRetry, failure: notify.ReasonServerError},
		{name: "retry-after past the horizon", err: throttled, age: time.Hour - 6*time.Second, want: GiveUp, reason: ReasonExpired, outcome: metrics.OutcomeFailed, failure: notify.ReasonRateLimited},
		{name: "provider gone", provider: "missing", want: GiveUp, reason: ReasonNoProvider, outcome: metrics.OutcomeFailed, failure: notify.ReasonConfig},
		// Failures to find the Provider's notifier that may pass are retried
		// on the normal schedule; those that need a config change are not.
		{name: "config not loaded", provider: "unloaded", want: RetryLater, delay: 2 * time.Second, outcome: metrics.OutcomeRetry, failure: notify.ReasonConfig},
		{name: "config not loaded past the horizon", provider: "unloaded", age: 2 * time.Hour, want: GiveUp, reason: ReasonExpired, outcome: metrics.OutcomeFailed, failure: notify.ReasonConfig},
		{name: "secret read throttled", provider: "secret-throttled", attempt: 1, want: RetryLater, delay: 4 * time.Second, outcome: metrics.OutcomeRetry, failure: notify.ReasonClientError},
		{name: "secret missing", provider: "secret-missing", want: GiveUp, reason: ReasonNoProvider, outcome: metrics.OutcomeFailed, failure: notify.ReasonConfig},
		{name: "secret key missing", provider: "key-missing", want: GiveUp, reason: ReasonNoProvider, outcome: metrics.OutcomeFailed, failure: notify.ReasonConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			d := newDeliverer(&scripted{script: []error{tc.err}}, &logs)
			provider := tc.provider
			if provider == "" {
				provider = "p"
			}
			job := &Job{ID: "id", Provider: ProviderRef{Namespace: "ns", Name: provider}, ProviderType: "generic", Attempt: tc.attempt, Queued: testNow.Add(-tc.age)}
			r := d.Attempt(context.Background(), job)
			if r.Decision != tc.want || r.Delay != tc.delay || r.Reason != tc.reason || r.Failure != tc.failure {
				t.Fatalf("got decision %v delay %v reason %q failure %q, want %v %v %q %q",
					r.Decision, r.Delay, r.Reason, r.Failure, tc.want, tc.delay, tc.reason, tc.failure)
			}
			if job.Attempt != tc.attempt+1 {
				t.Fatalf("attempt = %d, want %d", job.Attempt, tc.attempt+1)
			}
			if got := testutil.ToFloat64(d.Metrics.(*prom.Metrics).Deliveries.WithLabelValues("generic", tc.outcome, tc.failure)); got != 1 {
				t.Fatalf("deliveries{outcome=%s,reason=%s} = %v, want 1", tc.outcome, tc.failure, got)
			}
			// One JSON log line per outcome, naming the reason when given up.
			lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d log lines, want 1:\n%s", len(lines), logs.String())
			}
			var line map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &line); err != nil {
				t.Fatal(err)
			}
			if line["delivery"] != "id" || (tc.reason != "" && line["reason"] != tc.reason) {
				t.Fatalf("log line %v", line)
			}
		})
	}
}

func TestJobIDStable(t *testing.T) {
	ts := event.NewTime(time.Unix(1700000000, 0))
	p := ProviderRef{Namespace: "ns", Name: "p"}
	a := JobID("key", ts, "alert-uid", p)
	if a != JobID("key", ts, "alert-uid", p) {
		t.Fatal("JobID is not stable")
	}
	if a == JobID("key", ts, "other-alert", p) || a == JobID("key", ts, "alert-uid", ProviderRef{Namespace: "ns", Name: "q"}) {
		t.Fatal("JobID ignores the route")
	}
}

// waitsForDeadline answers only when its context ends, as a provider that
// never replies does, with the error the shared poster returns.
type waitsForDeadline struct{}

func (waitsForDeadline) Notify(ctx context.Context, _ event.Event) (bool, error) {
	<-ctx.Done()
	return true, notify.Retryable(fmt.Errorf("POST request failed: %w", ctx.Err()))
}

// A delivery that times out says which deadline it hit: the Provider's
// timeout, or the caller's (a Lambda invocation about to end).
func TestAttemptNamesTheTimeout(t *testing.T) {
	tests := []struct {
		name      string
		timeout   time.Duration
		caller    time.Duration
		wantError string
	}{
		{"provider timeout", 20 * time.Millisecond, time.Hour,
			"POST request failed: context deadline exceeded (the Provider's timeout of 20ms ran out; set spec.timeout to change it)"},
		{"invocation deadline", time.Hour, 20 * time.Millisecond,
			"POST request failed: context deadline exceeded (the invocation's deadline passed before the provider answered)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			d := newDeliverer(nil, &logs)
			d.Targets = func(ProviderRef) (Target, error) {
				return Target{Notifier: waitsForDeadline{}, Timeout: tc.timeout}, nil
			}
			ctx, cancel := context.WithTimeout(context.Background(), tc.caller)
			defer cancel()
			job := &Job{ID: "id", Provider: ProviderRef{Namespace: "ns", Name: "p"}, ProviderType: "generic"}
			r := d.Attempt(ctx, job)
			if r.Decision != RetryLater || r.Failure != notify.ReasonTimeout {
				t.Fatalf("decision %v failure %q, want a retry after a timeout", r.Decision, r.Failure)
			}
			if r.Err.Error() != tc.wantError {
				t.Errorf("error %q\nwant  %q", r.Err, tc.wantError)
			}
			if got := testutil.ToFloat64(d.Metrics.(*prom.Metrics).Deliveries.WithLabelValues("generic", metrics.OutcomeRetry, notify.ReasonTimeout)); got != 1 {
				t.Errorf("deliveries{outcome=retry,reason=timeout} = %v, want 1", got)
			}
		})
	}
}

// statusRecorder is a commit-status provider that records what it was
// asked to set.
type statusRecorder struct{ ids []string }

func (s *statusRecorder) Notify(context.Context, event.Event) (bool, error) {
	s.ids = append(s.ids, "<default>")
	return false, nil
}

func (s *statusRecorder) NotifyCommitStatus(_ context.Context, _ event.Event, id string) (bool, error) {
	s.ids = append(s.ids, id)
	return false, nil
}

// A commit-status job sets the status id the dispatcher planned; a job
// without one (queued before ids were planned) falls back to Notify.
func TestAttemptPassesTheStatusID(t *testing.T) {
	rec := &statusRecorder{}
	var logs bytes.Buffer
	d := newDeliverer(rec, &logs)
	for _, id := range []string{"kustomization/podinfo/0c9c2e41", ""} {
		job := &Job{ID: "id", Provider: ProviderRef{Namespace: "ns", Name: "p"}, ProviderType: "github", CommitStatus: id}
		if r := d.Attempt(context.Background(), job); r.Decision != Done {
			t.Fatalf("decision %v: %v", r.Decision, r.Err)
		}
	}
	if want := []string{"kustomization/podinfo/0c9c2e41", "<default>"}; !slices.Equal(rec.ids, want) {
		t.Errorf("calls %q, want %q", rec.ids, want)
	}
}

// A late delivery never overwrites what a newer event set: of two events
// for the same commit status, the older one delivered last sets nothing,
// while a retry of the newer one and another commit's status go through.
// Comments follow the same rule per change request and object.
func TestAttemptKeepsTheNewerStatus(t *testing.T) {
	rec := &statusRecorder{}
	var logs bytes.Buffer
	d := newDeliverer(rec, &logs)
	d.Order = memory.NewStatusOrder(time.Hour)
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	job := func(typ, commit string, at time.Time, changeRequest string) *Job {
		md := map[string]string{event.MetaCommit: commit}
		if changeRequest != "" {
			md[event.MetaChangeRequest] = changeRequest
		}
		j := &Job{
			ID: "id", Provider: ProviderRef{Namespace: "ns", Name: "p"}, ProviderType: typ,
			Event: event.Event{
				InvolvedObject: event.ObjectReference{Kind: "Kustomization", Namespace: "ns", Name: "podinfo"},
				Timestamp:      event.NewTime(at), Metadata: md, Reason: "ReconciliationSucceeded",
			},
		}
		if typ == "github" {
			j.CommitStatus = "kustomization/podinfo/0c9c2e41"
		}
		return j
	}
	const (
		commitA = "a1afe267b54f38b46b487f6e938a6fd508278c07"
		commitB = "b2bfe267b54f38b46b487f6e938a6fd508278c07"
	)
	steps := []struct {
		name string
		job  *Job
		sent bool
	}{
		{"newer status first", job("github", commitA, t0.Add(time.Minute), ""), true},
		{"older status late", job("github", commitA, t0, ""), false},
		{"retry of the newer", job("github", commitA, t0.Add(time.Minute), ""), true},
		{"another commit", job("github", commitB, t0, ""), true},
		{"newer comment", job("githubpullrequestcomment", commitA, t0.Add(time.Minute), "42"), true},
		{"older comment late", job("githubpullrequestcomment", commitA, t0, "42"), false},
		{"another change request", job("githubpullrequestcomment", commitA, t0, "43"), true},
		{"chat providers are not ordered", job("slack", commitA, t0, ""), true},
	}
	for _, s := range steps {
		before := len(rec.ids)
		r := d.Attempt(context.Background(), s.job)
		if r.Decision != Done {
			t.Fatalf("%s: decision %v: %v", s.name, r.Decision, r.Err)
		}
		if sent := len(rec.ids) > before; sent != s.sent {
			t.Errorf("%s: sent %v, want %v", s.name, sent, s.sent)
		}
	}
	if got := testutil.ToFloat64(d.Metrics.(*prom.Metrics).Deliveries.WithLabelValues("github", metrics.OutcomeSkipped, ReasonSuperseded)); got != 1 {
		t.Errorf("deliveries{outcome=skipped,reason=superseded} for github = %v, want 1", got)
	}
	if !strings.Contains(logs.String(), `"msg":"delivery skipped: a newer event already set this status"`) {
		t.Errorf("no log line says why the late status was skipped:\n%s", logs.String())
	}
}

// RetryScale shrinks the back-off and Retry-After alike, and the horizon
// still applies to the scaled delays.
func TestRetryScale(t *testing.T) {
	unavailable := &notify.Error{Retryable: true, StatusCode: 503, Err: errors.New("busy")}
	throttled := &notify.Error{Retryable: true, RetryAfter: 7 * time.Second, StatusCode: 429, Err: errors.New("slow down")}
	for _, c := range []struct {
		err     error
		attempt int
		want    time.Duration
	}{
		{unavailable, 0, 20 * time.Millisecond},
		{unavailable, 20, 3 * time.Second},
		{throttled, 0, 70 * time.Millisecond},
	} {
		var logs bytes.Buffer
		d := newDeliverer(&scripted{script: []error{c.err}}, &logs)
		d.RetryScale = 0.01
		job := &Job{ID: "id", Provider: ProviderRef{Namespace: "ns", Name: "p"}, ProviderType: "generic", Attempt: c.attempt, Queued: testNow}
		if r := d.Attempt(context.Background(), job); r.Decision != RetryLater || r.Delay != c.want {
			t.Errorf("attempt %d after %v: %v in %v, want a retry in %v", c.attempt+1, c.err, r.Decision, r.Delay, c.want)
		}
	}
}
