package sqsqueue_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

func nopBuilder(api.Provider, notify.SecretLookup) (notify.Notifier, time.Duration, error) {
	return nil, 0, nil
}

// wantRetried checks that the message of jobID was reported failed with its
// visibility set to delay, nothing was dead-lettered, and the claim was
// released for the retry.
func (e *env) wantRetried(t *testing.T, resp []string, msgID, jobID string, delay int32) {
	t.Helper()
	if !slices.Equal(resp, []string{msgID}) {
		t.Fatalf("batchItemFailures %v, want the message retried", resp)
	}
	vis := e.sqs.CallsOf("ChangeMessageVisibility")
	if len(vis) != 1 || *vis[0].VisibilityTimeout != delay {
		t.Fatalf("ChangeMessageVisibility %+v, want one of %d s", vis, delay)
	}
	if n := len(e.sqs.CallsOf("SendMessage")); n != 0 {
		t.Fatalf("%d messages dead-lettered", n)
	}
	r, _ := e.store.ClaimDelivery(context.Background(), jobID, time.Minute)
	if r.State != dynamo.Claimed {
		t.Fatalf("%s is %s after the attempt, want its claim released", jobID, r.State)
	}
	if err := e.store.ReleaseDelivery(context.Background(), jobID, r.Token); err != nil {
		t.Fatal(err)
	}
}

// A delivery that arrives before the dispatch Lambda has loaded any config
// (its table unreadable) is retried on the back-off schedule: no panic, and
// no claim left held until its lease runs out.
func TestHandleBeforeConfigLoaded(t *testing.T) {
	e := newEnv(t)
	missing := dynamo.New(e.db, "no-such-table", dynamo.Options{Now: func() time.Time { return e.now }, Logger: slog.New(slog.DiscardHandler)})
	config := dynamo.NewCachedConfig(missing, nil, nopBuilder, time.Minute)
	e.handler.Deliverer.Targets = store.Targets(config)

	rec := e.receive(body(t, job("j-early", "ok")), 1)
	e.wantRetried(t, failedIDs(e.handle(t, rec)), rec.MessageId, "j-early", 2)
	if logs := e.logs.String(); strings.Contains(logs, "panicked") || !strings.Contains(logs, "config not loaded yet") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// panicking is a notifier with a bug.
type panicking struct{}

func (panicking) Notify(context.Context, event.Event) (bool, error) { panic("notifier bug") }

// A panic during the attempt fails only its message, and frees its claim
// at once so that the retry is not held back for a lease.
func TestHandlePanicReleasesTheClaim(t *testing.T) {
	e := newEnv(t)
	e.handler.Deliverer.Targets = func(delivery.ProviderRef) (delivery.Target, error) {
		return delivery.Target{Notifier: panicking{}}, nil
	}
	rec := e.receive(body(t, job("j-panic", "ok")), 1)
	if got := failedIDs(e.handle(t, rec)); !slices.Equal(got, []string{rec.MessageId}) {
		t.Fatalf("batchItemFailures %v", got)
	}
	if r, _ := e.store.ClaimDelivery(context.Background(), "j-panic", time.Minute); r.State != dynamo.Claimed {
		t.Fatalf("j-panic is %s after a panic, want its claim released", r.State)
	}
}
