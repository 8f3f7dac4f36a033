package boltdb

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/storetest"
)

func TestDeduperContract(t *testing.T) {
	storetest.Deduper(t, func(interval time.Duration) store.Deduper {
		return openStore(t, Options{DedupInterval: interval}).Deduper()
	})
}

func TestReplaysContract(t *testing.T) {
	storetest.Replays(t, func(interval time.Duration) store.Deduper {
		return openStore(t, Options{DedupInterval: interval}).Deduper()
	})
}

// The windows of the memory Deduper, step for step (memory/dedup_test.go).
func TestDeduperWindows(t *testing.T) {
	ctx := context.Background()
	d := openStore(t, Options{DedupInterval: 5 * time.Minute}).Deduper()
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	steps := []struct {
		key       string
		at        time.Duration
		ok        bool
		wantReset time.Duration
	}{
		{"k", 0, true, 5 * time.Minute},
		{"k", time.Minute, false, 5 * time.Minute},
		{"k", 5*time.Minute - time.Nanosecond, false, 5 * time.Minute},
		// The window is a fixed tick from first sight, not sliding.
		{"k", 5 * time.Minute, true, 10 * time.Minute},
		{"k", 9 * time.Minute, false, 10 * time.Minute},
		{"k", 12 * time.Minute, true, 15 * time.Minute},
		// Up to an interval after its last window a key keeps its ticks...
		{"k", 20 * time.Minute, true, 25 * time.Minute},
		// ...and later it starts afresh, whether it was swept or not.
		{"k", 30*time.Minute + time.Nanosecond, true, 35*time.Minute + time.Nanosecond},
		{"k", 35 * time.Minute, false, 35*time.Minute + time.Nanosecond},
	}
	for _, s := range steps {
		ok, reset, err := d.Claim(ctx, s.key, t0.Add(s.at))
		if err != nil {
			t.Fatal(err)
		}
		if ok != s.ok || !reset.Equal(t0.Add(s.wantReset)) {
			t.Fatalf("%s at +%v: ok=%v reset=+%v, want ok=%v reset=+%v", s.key, s.at, ok, reset.Sub(t0), s.ok, s.wantReset)
		}
	}
}

func TestDeduperCanceled(t *testing.T) {
	d := openStore(t, Options{}).Deduper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if ok, _, err := d.Claim(ctx, "k", time.Now()); ok || err == nil {
		t.Errorf("Claim with a canceled context = %v, %v; want an error", ok, err)
	}
	if err := d.Forget(ctx, "k"); err == nil {
		t.Error("Forget with a canceled context succeeded")
	}
}

// fill claims n keys named prefix+i at now, in one transaction and in the
// memory that decides claims: the state of a busy interval, written fast.
func fill(t testing.TB, s *Store, prefix string, n int, now time.Time) {
	t.Helper()
	err := s.db.Update(func(tx *bolt.Tx) error {
		for i := range n {
			k := sha256.Sum256(fmt.Appendf(nil, "%s%d", prefix, i))
			op := windowOp(k, now, now.Add(s.opts.DedupInterval))
			if err := tx.Bucket(bucketDedup).Put(op.key, op.value); err != nil {
				return err
			}
			s.windows.Restore(k, now, now.Add(s.opts.DedupInterval))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A claim an interval after the last sweep sweeps the keys whose last
// window ended more than an interval ago, all of them, over more than one
// transaction, and no other key.
func TestDeduperSweepsExpiredKeys(t *testing.T) {
	ctx := context.Background()
	const interval = time.Minute
	s := openStore(t, Options{DedupInterval: interval})
	d := s.Deduper()
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)

	if ok, _, _ := d.Claim(ctx, "first", t0); !ok { // sweeps the empty file, at t0
		t.Fatal("first claim refused")
	}
	fill(t, s, "old", sweepChunk+500, t0)
	fill(t, s, "recent", 100, t0.Add(interval+time.Second)) // windows end at t0+2m1s
	if got, want := count(t, s, bucketDedup), sweepChunk+601; got != want {
		t.Fatalf("%d keys before sweeping, want %d", got, want)
	}

	// Not due yet: the last sweep was less than an interval ago.
	if ok, _, _ := d.Claim(ctx, "early", t0.Add(interval-time.Second)); !ok {
		t.Fatal("claim refused")
	}
	if got, want := count(t, s, bucketDedup), sweepChunk+602; got != want {
		t.Fatalf("%d keys after a claim before the sweep was due, want %d", got, want)
	}

	// At t0+2m+1ns the windows of "first" and "old" ended more than an
	// interval ago; that of "early" ended at t0+1m59s.
	if ok, _, _ := d.Claim(ctx, "trigger", t0.Add(2*interval+time.Nanosecond)); !ok {
		t.Fatal("claim refused")
	}
	for _, b := range [][]byte{bucketDedup} {
		if got, want := count(t, s, b), 102; got != want {
			t.Errorf("bucket %s: %d keys after sweeping, want %d (recent, early and trigger)", b, got, want)
		}
	}
	// The recent keys are still in their windows; a swept one is new.
	if ok, reset, _ := d.Claim(ctx, "recent7", t0.Add(2*interval)); ok || !reset.Equal(t0.Add(2*interval+time.Second)) {
		t.Errorf("a recent key: Claim = %v, reset %v", ok, reset)
	}
	at := t0.Add(3 * interval)
	if ok, reset, _ := d.Claim(ctx, "old7", at); !ok || !reset.Equal(at.Add(interval)) {
		t.Errorf("a swept key: Claim = %v, reset %v; want true, %v", ok, reset, at.Add(interval))
	}
}

// With keys expiring as fast as new ones come, the file stops growing:
// bbolt reuses the pages of swept keys.
func TestDeduperFileStopsGrowing(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 60,000 keys")
	}
	ctx := context.Background()
	const interval = time.Minute
	s := openStore(t, Options{DedupInterval: interval})
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	size := func() int64 {
		fi, err := os.Stat(s.db.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	var sizes []int64
	for round := range 20 {
		at := t0.Add(time.Duration(round) * 3 * interval)
		// Sweeps the round before, whose windows ended 2 intervals ago.
		if ok, _, _ := s.Deduper().Claim(ctx, fmt.Sprint("trigger", round), at); !ok {
			t.Fatal("claim refused")
		}
		fill(t, s, fmt.Sprint(round, "/"), 3000, at)
		sizes = append(sizes, size())
	}
	if got := count(t, s, bucketDedup); got != 3001 {
		t.Errorf("%d keys after the last round, want 3001 (its own and its trigger)", got)
	}
	// Without sweeping, the file doubles every few rounds.
	if sizes[len(sizes)-1] != sizes[4] {
		t.Errorf("file sizes by round %v: still growing after round 5", sizes)
	}
}

// Many claimers of one key: exactly one wins per window, whatever the
// batching, and a Forget in the middle lets exactly one more through.
func TestDeduperConcurrentClaims(t *testing.T) {
	ctx := context.Background()
	const interval = time.Minute
	s := openStore(t, Options{DedupInterval: interval})
	d := s.Deduper()
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	const (
		keys     = 8
		claimers = 32
		windows  = 4
	)
	// A first sight before the test aligns the windows to t0, whichever
	// claim of a window comes first.
	for k := range keys {
		if ok, _, _ := d.Claim(ctx, fmt.Sprint("key", k), t0.Add(-interval)); !ok {
			t.Fatal("first claim refused")
		}
	}
	for w := range windows {
		var (
			wg   sync.WaitGroup
			wins [keys]atomic.Int32
		)
		for c := range claimers {
			for k := range keys {
				wg.Go(func() {
					// Claims spread over the window; all of them in it.
					at := t0.Add(time.Duration(w)*interval + time.Duration(c)*time.Second)
					ok, reset, err := d.Claim(ctx, fmt.Sprint("key", k), at)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						wins[k].Add(1)
					}
					if want := t0.Add(time.Duration(w+1) * interval); !reset.Equal(want) {
						t.Errorf("window %d key %d: reset %v, want %v", w, k, reset, want)
					}
				})
			}
		}
		wg.Wait()
		for k := range keys {
			if n := wins[k].Load(); n != 1 {
				t.Errorf("window %d key %d: %d claims won, want 1", w, k, n)
			}
		}
	}
}
