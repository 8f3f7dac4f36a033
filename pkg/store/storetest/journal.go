package storetest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// DeliveryJournal checks the store.DeliveryJournal contract on an empty j:
// records come back whole, pending and dead apart, oldest Updated first; a
// put replaces the record of its ID, also between pending and dead; delete
// removes, and ignores a missing ID; a put that fails writes none of its
// records; concurrent puts all land.
func DeliveryJournal(t *testing.T, j store.DeliveryJournal) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	rec := func(id string, updated time.Duration) store.DeliveryRecord {
		return store.DeliveryRecord{
			ID:      id,
			Job:     []byte(`{"provider":"flux-system/slack","event":{"reason":"ReconciliationSucceeded"}}` + id),
			Updated: t0.Add(updated),
		}
	}
	put := func(recs ...store.DeliveryRecord) {
		t.Helper()
		if err := j.PutDeliveries(ctx, recs...); err != nil {
			t.Fatalf("PutDeliveries: %v", err)
		}
	}
	check := func(step string, dead bool, want ...store.DeliveryRecord) {
		t.Helper()
		got, err := j.ListDeliveries(ctx, dead)
		if err != nil {
			t.Fatalf("%s: ListDeliveries(dead=%v): %v", step, dead, err)
		}
		if diff := diffRecords(got, want); diff != "" {
			t.Errorf("%s: ListDeliveries(dead=%v): %s", step, dead, diff)
		}
	}

	check("empty", false)
	check("empty", true)

	a, b, c := rec("a", 2*time.Second), rec("b", time.Second), rec("c", 3*time.Second)
	a.NextAttempt = t0.Add(time.Minute)
	a.LastError = "slack: 503 Service Unavailable"
	put(a, b)
	put(c)
	check("put", false, b, a, c) // oldest Updated first, not ID or put order
	check("put", true)

	// A retry rewrites a record in place; a failure moves it to the dead.
	b.LastError, b.Updated = "slack: 429 Too Many Requests", t0.Add(5*time.Second)
	a.Dead, a.Reason, a.NextAttempt, a.Updated = true, "5 attempts failed", time.Time{}, t0.Add(4*time.Second)
	put(b, a)
	check("replace", false, c, b)
	check("replace", true, a)

	// A replayed dead letter is pending again, and no longer dead.
	a.Dead, a.Reason, a.Updated = false, "", t0.Add(6*time.Second)
	put(a)
	check("replay", false, c, b, a)
	check("replay", true)

	for _, id := range []string{"c", "missing"} {
		if err := j.DeleteDelivery(ctx, id); err != nil {
			t.Fatalf("DeleteDelivery(%s): %v", id, err)
		}
	}
	check("delete", false, b, a)
	d := rec("d", 7*time.Second)
	d.Dead = true
	put(d)
	if err := j.DeleteDelivery(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	check("delete dead", true)

	// All or none: a record without an ID fails the put, and the valid
	// record beside it is not written; neither is anything once the
	// context is done.
	if err := j.PutDeliveries(ctx, rec("e", 8*time.Second), store.DeliveryRecord{Job: []byte("{}")}); err == nil {
		t.Error("PutDeliveries took a record without an ID")
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := j.PutDeliveries(canceled, rec("f", 9*time.Second)); err == nil {
		t.Error("PutDeliveries with a canceled context succeeded")
	}
	check("failed puts", false, b, a)

	// Concurrent puts, one of which fails, as events arrive together.
	const putters = 16
	var (
		wg   sync.WaitGroup
		want []store.DeliveryRecord
	)
	for i := range putters {
		r := rec(fmt.Sprintf("p%02d", i), time.Minute+time.Duration(i)*time.Second)
		r.Job = bytes.Repeat([]byte{byte(i), 0, 0xff, '"'}, 64<<10) // any bytes, 256 KiB
		want = append(want, r)
		wg.Go(func() {
			if err := j.PutDeliveries(ctx, r); err != nil {
				t.Errorf("concurrent put %d: %v", i, err)
			}
		})
	}
	wg.Go(func() {
		if err := j.PutDeliveries(ctx, rec("", time.Minute)); err == nil {
			t.Error("a concurrent put of a record without an ID succeeded")
		}
	})
	wg.Wait()
	check("concurrent puts", false, append([]store.DeliveryRecord{b, a}, want...)...)
}

// diffRecords describes how got differs from want, or returns "".
func diffRecords(got, want []store.DeliveryRecord) string {
	ids := func(rs []store.DeliveryRecord) string {
		var s []string
		for _, r := range rs {
			s = append(s, r.ID)
		}
		return "[" + strings.Join(s, " ") + "]"
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %s, want %s", ids(got), ids(want))
	}
	for i := range got {
		g, w := got[i], want[i]
		switch {
		case g.ID != w.ID:
			return fmt.Sprintf("got %s, want %s", ids(got), ids(want))
		case !bytes.Equal(g.Job, w.Job):
			return fmt.Sprintf("%s: job of %d bytes differs from the %d put", g.ID, len(g.Job), len(w.Job))
		case g.Dead != w.Dead || g.LastError != w.LastError || g.Reason != w.Reason:
			return fmt.Sprintf("%s: dead=%v lastError=%q reason=%q, want dead=%v lastError=%q reason=%q",
				g.ID, g.Dead, g.LastError, g.Reason, w.Dead, w.LastError, w.Reason)
		case !g.NextAttempt.Equal(w.NextAttempt) || !g.Updated.Equal(w.Updated):
			return fmt.Sprintf("%s: nextAttempt=%v updated=%v, want nextAttempt=%v updated=%v",
				g.ID, g.NextAttempt, g.Updated, w.NextAttempt, w.Updated)
		}
	}
	return ""
}
