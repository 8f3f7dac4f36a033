package memory

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store/storetest"
)

func TestStatusOrder(t *testing.T) {
	storetest.StatusOrder(t, NewStatusOrder(time.Hour))
}

// Records not written for the keep time are dropped, so the map does not
// grow with every commit ever deployed; an old event's record is kept as
// long as a recent one's.
func TestStatusOrderForgetsOldRecords(t *testing.T) {
	o := NewStatusOrder(time.Hour)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	o.now = func() time.Time { return now }
	ctx := context.Background()
	if ok, _ := o.Advance(ctx, "old", now.Add(-2*time.Hour)); !ok {
		t.Fatal("first record refused")
	}
	if ok, _ := o.Advance(ctx, "old event", now.Add(-48*time.Hour)); !ok {
		t.Fatal("a record of an old event refused")
	}
	if ok, _ := o.Advance(ctx, "old event", now.Add(-49*time.Hour)); ok {
		t.Fatal("a record of an old event was dropped at once")
	}
	now = now.Add(2 * time.Hour)
	if ok, _ := o.Advance(ctx, "new", now); !ok {
		t.Fatal("second record refused")
	}
	if _, kept := o.latest["old"]; kept || len(o.latest) != 1 {
		t.Errorf("records %v, want only the new one", o.latest)
	}
}
