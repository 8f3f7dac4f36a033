package boltdb

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store/storetest"
)

func TestStatusOrderContract(t *testing.T) {
	storetest.StatusOrder(t, openStore(t, Options{}).StatusOrder())
}

// Records not written for the TTL count as absent and are swept; an old
// event's record is kept as long as a recent one's (memory/order_test.go).
func TestStatusOrderForgetsOldRecords(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: now}
	s := openStore(t, Options{OrderTTL: time.Hour, Now: clock.Now})
	o := s.StatusOrder()
	advance := func(key string, at time.Time, want bool) {
		t.Helper()
		ok, err := o.Advance(ctx, key, at)
		if err != nil {
			t.Fatal(err)
		}
		if ok != want {
			t.Errorf("Advance(%s, %v) at %v = %v, want %v", key, at, clock.Now(), ok, want)
		}
	}
	advance("old", now.Add(-2*time.Hour), true)
	advance("old event", now.Add(-48*time.Hour), true)
	advance("old event", now.Add(-49*time.Hour), false) // not dropped at once

	clock.Advance(time.Hour)
	advance("old event", now.Add(-49*time.Hour), false) // kept for exactly the TTL
	if n := count(t, s, bucketOrder); n != 2 {
		t.Errorf("%d records an hour after the first sweep, want 2", n)
	}

	clock.Advance(time.Nanosecond) // sweeps: the last one was an hour ago
	advance("new", clock.Now(), true)
	if n := count(t, s, bucketOrder); n != 1 {
		t.Errorf("%d records after sweeping, want 1 (new)", n)
	}

	// Expired but not yet swept counts as absent too.
	advance("new", clock.Now().Add(-time.Second), false)
	clock.Advance(time.Hour + time.Nanosecond)
	advance("new", clock.Now().Add(-2*time.Hour), true)
}

func TestStatusOrderCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, err := openStore(t, Options{}).StatusOrder().Advance(ctx, "k", time.Now()); ok || err == nil {
		t.Errorf("Advance with a canceled context = %v, %v; want an error", ok, err)
	}
}
