package storetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Replays checks the replay guard of Dedupers that newDeduper returns
// empty, which are store.Replays too: a signature is accepted once until
// it expires, whether it comes with a claim (ClaimSigned) or alone (Seen);
// a replay claims no window; the signature of a request refused as a
// duplicate stays recorded, so that it cannot be replayed after its window
// ends (the rate-limit interval may be shorter than the signature's
// lifetime); and of concurrent uses of one signature exactly one wins.
func Replays(t *testing.T, newDeduper func(interval time.Duration) store.Deduper) {
	t.Helper()
	ctx := context.Background()
	// Tomorrow, in whole seconds, as for Deduper.
	t0 := time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
	sig := func(name string) store.Signature {
		return store.Signature{Key: "prod/" + name, Expires: t0.Add(5*time.Minute + time.Second)}
	}
	replays := func(t *testing.T, d store.Deduper) store.Replays {
		r, ok := d.(store.Replays)
		if !ok {
			t.Fatalf("%T is not a store.Replays", d)
		}
		return r
	}

	t.Run("seen", func(t *testing.T) {
		r := replays(t, newDeduper(time.Minute))
		for i, s := range []struct {
			sig      string
			at       time.Duration
			replayed bool
		}{
			{"a", 0, false},
			{"a", time.Second, true},
			{"b", time.Second, false}, // signatures are apart
			{"a", 5 * time.Minute, true},
			{"a", 5*time.Minute + time.Second, false}, // expired: too old to pass the skew check anyway
		} {
			got, err := r.Seen(ctx, sig(s.sig), t0.Add(s.at))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if got != s.replayed {
				t.Errorf("step %d: Seen(%s, +%v) = %v, want %v", i, s.sig, s.at, got, s.replayed)
			}
		}
	})

	t.Run("claim signed", func(t *testing.T) {
		// A rate-limit interval shorter than a signature's lifetime: the
		// window alone would let a replay through after a minute.
		d := newDeduper(time.Minute)
		for i, s := range []struct {
			key, sig     string
			at           time.Duration
			replayed, ok bool
			reset        time.Duration
		}{
			{"k", "a", 0, false, true, time.Minute},
			{"k", "a", time.Second, true, false, 0},                       // the same request again
			{"k", "b", 2 * time.Second, false, false, time.Minute},        // the same event, signed anew: a duplicate
			{"k", "a", 2 * time.Minute, true, false, 0},                   // after the window: still a replay
			{"k", "b", 3 * time.Minute, true, false, 0},                   // the duplicate's signature was kept
			{"k", "c", 3 * time.Minute, false, true, 4 * time.Minute},     // a new request of the event opens a window
			{"other", "a", 4 * time.Minute, true, false, 0},               // a signature is one request, whatever its key
			{"other", "d", 4 * time.Minute, false, true, 5 * time.Minute}, // the replay above claimed nothing
			{"k", "a", 6 * time.Minute, false, true, 7 * time.Minute},     // expired
		} {
			replayed, ok, reset, err := d.ClaimSigned(ctx, s.key, sig(s.sig), t0.Add(s.at))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if replayed != s.replayed || ok != s.ok || (!replayed && !reset.Equal(t0.Add(s.reset))) {
				t.Errorf("step %d: ClaimSigned(%s, %s, +%v) = replayed %v, ok %v, reset +%v; want %v, %v, +%v",
					i, s.key, s.sig, s.at, replayed, ok, reset.Sub(t0), s.replayed, s.ok, s.reset)
			}
		}
		// Seen and ClaimSigned keep one record.
		r := replays(t, d)
		if replayed, err := r.Seen(ctx, sig("c"), t0.Add(4*time.Minute)); err != nil || !replayed {
			t.Errorf("Seen of a signature ClaimSigned recorded = %v, %v; want a replay", replayed, err)
		}
		if replayed, err := r.Seen(ctx, sig("e"), t0.Add(4*time.Minute)); err != nil || replayed {
			t.Fatalf("Seen(e) = %v, %v", replayed, err)
		}
		if replayed, _, _, err := d.ClaimSigned(ctx, "new", sig("e"), t0.Add(4*time.Minute)); err != nil || !replayed {
			t.Errorf("ClaimSigned of a signature Seen recorded = %v, %v; want a replay", replayed, err)
		}
	})

	t.Run("race", func(t *testing.T) {
		d := newDeduper(time.Minute)
		const n = 8
		var fresh, claimed atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			// The same request n times, and the same event signed n ways.
			wg.Go(func() {
				replayed, _, _, err := d.ClaimSigned(ctx, "same-request", sig("same"), t0)
				if err != nil {
					errs <- err
				} else if !replayed {
					fresh.Add(1)
				}
			})
			wg.Go(func() {
				replayed, ok, _, err := d.ClaimSigned(ctx, "same-event", sig(fmt.Sprint("sig-", i)), t0)
				switch {
				case err != nil:
					errs <- err
				case replayed:
					errs <- fmt.Errorf("signature %d refused as a replay", i)
				case ok:
					claimed.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if fresh.Load() != 1 {
			t.Errorf("%d of %d uses of one signature were accepted, want 1", fresh.Load(), n)
		}
		if claimed.Load() != 1 {
			t.Errorf("%d of %d differently signed requests of one event claimed it, want 1", claimed.Load(), n)
		}
	})
}
