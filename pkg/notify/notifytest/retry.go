package notifytest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// RetryCase is one server answer and what the shared classifier makes of it.
type RetryCase struct {
	Name   string
	Status int
	// RetryAfter is the Retry-After header sent, if any.
	RetryAfter string
	WantErr    bool
	WantRetry  bool
	// WantRetryAfter is the delay the error must carry, or up to Tolerance less.
	WantRetryAfter time.Duration
	Tolerance      time.Duration
}

// RetryTests is the status table every HTTP provider must honour. It is
// built when called, because an HTTP-date Retry-After is relative to now.
func RetryTests() []RetryCase {
	date := time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	return []RetryCase{
		{Name: "200", Status: 200},
		{Name: "201", Status: 201},
		{Name: "202", Status: 202},
		{Name: "204", Status: 204},
		{Name: "400", Status: 400, WantErr: true},
		{Name: "401", Status: 401, WantErr: true},
		{Name: "403", Status: 403, WantErr: true},
		{Name: "404", Status: 404, WantErr: true},
		{Name: "409", Status: 409, WantErr: true},
		{Name: "413", Status: 413, WantErr: true},
		{Name: "422", Status: 422, WantErr: true},
		{Name: "501 cannot change", Status: 501, WantErr: true},
		{Name: "408", Status: 408, WantErr: true, WantRetry: true},
		{Name: "429", Status: 429, WantErr: true, WantRetry: true},
		{Name: "500", Status: 500, WantErr: true, WantRetry: true},
		{Name: "502", Status: 502, WantErr: true, WantRetry: true},
		{Name: "503", Status: 503, WantErr: true, WantRetry: true},
		{Name: "504", Status: 504, WantErr: true, WantRetry: true},
		{Name: "429 Retry-After seconds", Status: 429, RetryAfter: "7", WantErr: true, WantRetry: true, WantRetryAfter: 7 * time.Second},
		{Name: "503 Retry-After seconds", Status: 503, RetryAfter: "30", WantErr: true, WantRetry: true, WantRetryAfter: 30 * time.Second},
		{Name: "429 Retry-After HTTP-date", Status: 429, RetryAfter: date, WantErr: true, WantRetry: true, WantRetryAfter: 2 * time.Minute, Tolerance: 5 * time.Second},
		{Name: "503 Retry-After date in the past", Status: 503, RetryAfter: past, WantErr: true, WantRetry: true},
		{Name: "429 Retry-After malformed", Status: 429, RetryAfter: "soon", WantErr: true, WantRetry: true},
		{Name: "400 ignores Retry-After", Status: 400, RetryAfter: "7", WantErr: true},
	}
}

// NewFunc builds the notifier under test for an address.
type NewFunc func(t *testing.T, address string) notify.Notifier

// RunRetryTests runs RetryTests against the notifier newNotifier builds for
// a sink's address, then checks that a refused connection and a timeout are
// retryable.
func RunRetryTests[N notify.Notifier](t *testing.T, newNotifier func(t *testing.T, address string) N) {
	t.Helper()
	ev := ReferenceEvent(event.SeverityInfo, true)
	for _, tc := range RetryTests() {
		t.Run(tc.Name, func(t *testing.T) {
			var header []string
			if tc.RetryAfter != "" {
				header = []string{"Retry-After", tc.RetryAfter}
			}
			sink := NewSink(t, Status(tc.Status, "answer body", header...))
			retry, err := newNotifier(t, sink.URL+"/hook").Notify(context.Background(), ev)
			if (err != nil) != tc.WantErr {
				t.Fatalf("err = %v, want error: %v", err, tc.WantErr)
			}
			if retry != tc.WantRetry {
				t.Errorf("retry = %v, want %v (err %v)", retry, tc.WantRetry, err)
			}
			if err == nil {
				return
			}
			var e *notify.Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not a *notify.Error", err)
			}
			if e.StatusCode != tc.Status {
				t.Errorf("StatusCode = %d, want %d", e.StatusCode, tc.Status)
			}
			if d := e.RetryAfter - tc.WantRetryAfter; d < -tc.Tolerance || d > 0 {
				t.Errorf("RetryAfter = %v, want %v (-%v)", e.RetryAfter, tc.WantRetryAfter, tc.Tolerance)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		retry, err := newNotifier(t, ClosedAddress(t)+"/hook").Notify(context.Background(), ev)
		if err == nil || !retry {
			t.Fatalf("retry = %v, err = %v; want a retryable error", retry, err)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		release := make(chan struct{})
		sink := NewSink(t, func(http.ResponseWriter, *http.Request) { <-release })
		defer close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		retry, err := newNotifier(t, sink.URL+"/hook").Notify(ctx, ev)
		if err == nil || !retry || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("retry = %v, err = %v; want a retryable deadline error", retry, err)
		}
	})
}

// ClosedAddress returns the base URL of a server that was started and
// closed, so connecting to it is refused.
func ClosedAddress(t testing.TB) string {
	s := NewSink(t, nil)
	s.Close()
	return s.URL
}
