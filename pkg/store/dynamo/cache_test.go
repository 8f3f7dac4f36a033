package dynamo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
	"github.com/heraldhq/herald/pkg/rules"
)

// nopBuilder builds notifiers that are never used.
var nopBuilder = notifiers.New(func(notify.Config) (notify.Notifier, error) { return nil, nil })

// cached serves the config of s as the dispatch Lambda does, on the test's
// clock.
func (e *testEnv) cached(s *Store, opts config.CachedOptions) *config.Cached {
	opts.Now = e.clock.Now
	if opts.Logger == nil {
		opts.Logger = discardLogger()
	}
	return config.NewCached(s, nopBuilder, opts)
}

// ingest does what the dispatch Lambda does per event with the store: the
// de-duplication claim, then matching against the cached config.
func ingest(t *testing.T, c *config.Cached, d *Deduper, ev *event.Event, now time.Time) []*rules.Alert {
	t.Helper()
	ok, _, err := d.Claim(context.Background(), "prod/"+ev.DedupKey(), now)
	if err != nil || !ok {
		t.Fatalf("claim: %v, %v", ok, err)
	}
	snap := c.Snapshot()
	if snap == nil {
		t.Fatal("no config")
	}
	return snap.Alerts.Match(nil, ev, "prod")
}

func testEvent(i int) *event.Event {
	return &event.Event{
		InvolvedObject: event.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "podinfo"},
		Severity:       event.SeverityInfo,
		Message:        fmt.Sprintf("reconciliation %d finished", i),
		Reason:         "ReconciliationSucceeded",
	}
}

// TestCachedSteadyState proves the cost per event in a warm Lambda:
// one DynamoDB request (the de-duplication put) and no config read, until
// the TTL runs out; then one refresh.
func TestCachedSteadyState(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := context.Background()
	for _, obj := range []any{testProvider("", "apps", "slack"), testAlert("", "apps", "on-call", "slack")} {
		if _, err := e.store.PutObject(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	c := e.cached(e.store, config.CachedOptions{TTL: 30 * time.Second})
	d := e.store.Deduper()

	e.counter.Reset()
	if got := ingest(t, c, d, testEvent(0), e.clock.Now()); len(got) != 1 {
		t.Fatalf("matched %d Alerts, want 1", len(got))
	}
	if q := e.counter.Count("Query"); q != 1 {
		t.Fatalf("cold start made %d Queries, want 1", q)
	}

	const events = 50
	e.counter.Reset()
	for i := 1; i <= events; i++ {
		e.clock.Advance(500 * time.Millisecond) // 25 s in all, inside the TTL
		if got := ingest(t, c, d, testEvent(i), e.clock.Now()); len(got) != 1 {
			t.Fatalf("event %d matched %d Alerts", i, len(got))
		}
	}
	if got := e.counter.Counts(); got["PutItem"] != events || e.counter.Total() != events {
		t.Fatalf("%d events made %v; want exactly one PutItem each and nothing else", events, got)
	}
	t.Logf("steady state: %d events, %d DynamoDB requests (%v)", events, e.counter.Total(), e.counter.Counts())

	// A config change shows once the TTL has run out, with one read.
	if _, err := e.store.PutObject(ctx, testAlert("", "apps", "audit", "slack")); err != nil {
		t.Fatal(err)
	}
	e.counter.Reset()
	e.clock.Advance(4 * time.Second) // 29.5 s after the load
	if got := ingest(t, c, d, testEvent(100), e.clock.Now()); len(got) != 1 {
		t.Fatalf("before the TTL, matched %d Alerts, want the cached 1", len(got))
	}
	e.clock.Advance(time.Second)
	if got := ingest(t, c, d, testEvent(101), e.clock.Now()); len(got) != 2 {
		t.Fatalf("after the TTL, matched %d Alerts, want 2", len(got))
	}
	if q := e.counter.Count("Query"); q != 1 {
		t.Fatalf("the refresh made %d Queries, want 1", q)
	}
	if st := c.Stats(); st.Loads != 2 || st.Failures != 0 {
		t.Errorf("stats %+v, want 2 loads", st)
	}

	// Concurrent callers after the TTL: one refreshes, none waits for it
	// and none reads again.
	e.clock.Advance(31 * time.Second)
	e.counter.Reset()
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if c.Snapshot() == nil {
				t.Error("nil snapshot")
			}
		})
	}
	wg.Wait()
	if q := e.counter.Count("Query"); q != 1 {
		t.Errorf("16 concurrent callers made %d Queries, want 1", q)
	}
}

// TestCachedKeepsLastGood: a refresh that fails keeps the snapshot,
// is reported without the document's content, and is not retried before
// another TTL.
func TestCachedKeepsLastGood(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reported []error
	e := newEnv(t, Options{Logger: discardLogger()})
	ctx := context.Background()
	if _, err := e.store.PutObject(ctx, testAlert("", "apps", "on-call", "slack")); err != nil {
		t.Fatal(err)
	}
	c := e.cached(e.store, config.CachedOptions{
		TTL: 10 * time.Second,
		OnError: func(err error) {
			mu.Lock()
			reported = append(reported, err)
			mu.Unlock()
		},
	})
	good := c.Snapshot()
	if good == nil || good.Alerts.Len() != 1 {
		t.Fatal("first load failed")
	}

	// An item whose document does not decode.
	_, err := e.raw.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(e.table),
		Item: map[string]types.AttributeValue{
			"pk": str("config"), "sk": str("Alert#*#apps#broken"), "kind": str("Alert"),
			"apiVersion": str(v1beta3), "cluster": str("*"), "namespace": str("apps"), "name": str("broken"),
			"doc": str(`{"spec": {"eventSources": "SECRET-VALUE"}}`), "generation": num(1),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(11 * time.Second)
	e.counter.Reset()
	if snap := c.Snapshot(); snap != good {
		t.Fatal("a failed refresh replaced the snapshot")
	}
	if len(reported) != 1 {
		t.Fatalf("%d errors reported, want 1", len(reported))
	}
	msg := reported[0].Error()
	if !strings.Contains(msg, "Alert#*#apps#broken") || strings.Contains(msg, "SECRET-VALUE") {
		t.Errorf("error %q: want the item's key and nothing of its document", msg)
	}
	e.clock.Advance(9 * time.Second)
	c.Snapshot()
	if q := e.counter.Count("Query"); q != 1 {
		t.Errorf("%d Queries within the TTL after a failure, want 1", q)
	}
	if _, err := e.store.DeleteObject(ctx, api.KindAlert, "", "apps", "broken"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(2 * time.Second)
	if snap := c.Snapshot(); snap == good || snap.Alerts.Len() != 1 {
		t.Error("the refresh after the fix did not load")
	}
	if st := c.Stats(); st.Loads != 2 || st.Failures != 1 {
		t.Errorf("stats %+v, want 2 loads and 1 failure", st)
	}
}

// TestCachedFirstLoadRetries: without any config yet, a failed load is
// retried after a second rather than a whole TTL.
func TestCachedFirstLoadRetries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{Logger: discardLogger()})
	missing := New(e.client, e.table+"-missing", Options{Now: e.clock.Now, Logger: discardLogger()})
	c := e.cached(missing, config.CachedOptions{TTL: time.Minute})
	if c.Snapshot() != nil {
		t.Fatal("a snapshot without a table")
	}
	if err := c.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "Query") {
		t.Fatalf("Refresh: %v, want an error naming the Query", err)
	}
	e.counter.Reset()
	c.Snapshot()
	if n := e.counter.Total(); n != 0 {
		t.Errorf("%d requests right after a failure", n)
	}
	e.clock.Advance(time.Second)
	c.Snapshot()
	if n := e.counter.Count("Query"); n != 1 {
		t.Errorf("%d Queries a second after a failed first load, want 1", n)
	}
}
