package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Deduper checks the store.Deduper contract on Dedupers that newDeduper
// returns empty, with windows of the given interval: a claim wins once per
// window and says when the window ends, a key's first window ends an
// interval after its first claim, a claim at a window's end opens the
// next, keys are apart, Forget lets a key win again, and of concurrent
// claims of one key exactly one wins.
//
// Times are whole seconds in the future, since the DynamoDB store keeps
// window ends in seconds and its TTL deletes items by the real clock.
// Where windows fall after a pause longer than an interval is left to each
// store: the memory and bbolt ones keep ticks aligned to a key's first
// sight, DynamoDB starts a window at the claim.
func Deduper(t *testing.T, newDeduper func(interval time.Duration) store.Deduper) {
	t.Helper()
	const interval = 5 * time.Minute
	ctx := context.Background()
	// Tomorrow: a store that expires records by the real clock, as
	// DynamoDB's TTL does, must not drop a window the test still reads.
	t0 := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)

	t.Run("windows", func(t *testing.T) {
		d := newDeduper(interval)
		steps := []struct {
			key   string
			at    time.Duration
			ok    bool
			reset time.Duration
		}{
			{"k", 0, true, 5 * time.Minute},
			{"k", time.Minute, false, 5 * time.Minute},
			{"k", 5*time.Minute - time.Second, false, 5 * time.Minute},
			{"other", time.Minute, true, 6 * time.Minute},  // keys are apart
			{"k", 5 * time.Minute, true, 10 * time.Minute}, // a window's end is the next one's start
			{"k", 9 * time.Minute, false, 10 * time.Minute},
			{"other", 6 * time.Minute, true, 11 * time.Minute}, // right at the end of its window
		}
		for i, s := range steps {
			ok, reset, err := d.Claim(ctx, s.key, t0.Add(s.at))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if ok != s.ok || !reset.Equal(t0.Add(s.reset)) {
				t.Errorf("step %d: Claim(%s, +%v) = %v, reset +%v; want %v, reset +%v", i, s.key, s.at, ok, reset.Sub(t0), s.ok, s.reset)
			}
		}
	})

	t.Run("forget", func(t *testing.T) {
		d := newDeduper(interval)
		if err := d.Forget(ctx, "never claimed"); err != nil {
			t.Fatalf("Forget of a key never claimed: %v", err)
		}
		if ok, _, err := d.Claim(ctx, "k", t0); !ok || err != nil {
			t.Fatalf("first claim = %v, %v", ok, err)
		}
		if err := d.Forget(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		ok, reset, err := d.Claim(ctx, "k", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if !ok || !reset.Equal(t0.Add(6*time.Minute)) {
			t.Errorf("claim after Forget = %v, reset +%v; want true, reset +6m", ok, reset.Sub(t0))
		}
		if ok, _, _ := d.Claim(ctx, "k", t0.Add(2*time.Minute)); ok {
			t.Error("the window a claim after Forget opened let a second claim through")
		}
	})

	t.Run("concurrent claims", func(t *testing.T) {
		d := newDeduper(interval)
		const claimers = 16
		for w := range 3 {
			at := t0.Add(time.Duration(w) * interval)
			var (
				wg    sync.WaitGroup
				mu    sync.Mutex
				wins  int
				reset = map[time.Time]int{}
			)
			for range claimers {
				wg.Go(func() {
					ok, r, err := d.Claim(ctx, "race", at)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					defer mu.Unlock()
					if ok {
						wins++
					}
					reset[r.UTC()]++
				})
			}
			wg.Wait()
			if wins != 1 {
				t.Errorf("window %d: %d of %d concurrent claims won, want exactly 1", w, wins, claimers)
			}
			if want := at.Add(interval); len(reset) != 1 || reset[want] != claimers {
				t.Errorf("window %d: resets %v, want all %v", w, reset, want)
			}
		}
	})
}
