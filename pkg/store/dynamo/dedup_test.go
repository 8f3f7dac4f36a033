package dynamo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store/memory"
)

func TestDedupRace(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{DedupInterval: 5 * time.Minute})
	d := e.store.Deduper()
	now := testEpoch.Add(250 * time.Millisecond)
	const n = 8
	var (
		wg     sync.WaitGroup
		start  = make(chan struct{})
		oks    [n]bool
		resets [n]time.Time
		errs   [n]error
	)
	for i := range n {
		wg.Go(func() {
			<-start
			// Each claimant's clock differs a little, so a refusal's reset
			// can only be the winner's window end if it was read from the
			// stored record.
			oks[i], resets[i], errs[i] = d.Claim(context.Background(), "prod/abc", now.Add(time.Duration(i)*time.Second))
		})
	}
	close(start)
	wg.Wait()
	winners, winner := 0, 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("claim %d: %v", i, errs[i])
		}
		if oks[i] {
			winners++
			winner = i
		}
	}
	if winners != 1 {
		t.Fatalf("%d claims won, want exactly 1", winners)
	}
	// The window ends 5 minutes after the winner's claim, rounded up to the
	// second.
	wantReset := testEpoch.Add(5*time.Minute + time.Duration(1+winner)*time.Second)
	for i := range n {
		if !resets[i].Equal(wantReset) {
			t.Errorf("claim %d (ok=%v): reset %v, want %v", i, oks[i], resets[i], wantReset)
		}
	}
	// One conditional put each, no reads: the reset comes with the refusal.
	if got := e.counter.Counts(); got["PutItem"] != n || e.counter.Total() != n {
		t.Errorf("requests %v, want %d PutItems only", got, n)
	}
	item := e.rawItem(t, "dedup#prod/abc", "dedup")
	if exp, _ := getN(item, "expiresAt"); exp != wantReset.Unix() {
		t.Errorf("expiresAt = %d, want %d", exp, wantReset.Unix())
	}
}

func TestDedupWindow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{DedupInterval: 5 * time.Minute})
	d := e.store.Deduper()
	ctx := context.Background()
	t0 := testEpoch
	steps := []struct {
		at        time.Duration
		ok        bool
		wantReset time.Duration
	}{
		{0, true, 5 * time.Minute},
		{time.Minute, false, 5 * time.Minute},
		{5*time.Minute - time.Millisecond, false, 5 * time.Minute},
		// The expired record is still in the table (TTL deletion is lazy)
		// and is ignored: a new window starts at this claim.
		{5 * time.Minute, true, 10 * time.Minute},
		{9 * time.Minute, false, 10 * time.Minute},
		{12 * time.Minute, true, 17 * time.Minute},
	}
	for _, s := range steps {
		ok, reset, err := d.Claim(ctx, "k", t0.Add(s.at))
		if err != nil {
			t.Fatal(err)
		}
		if ok != s.ok || !reset.Equal(t0.Add(s.wantReset)) {
			t.Fatalf("at +%v: ok=%v reset=+%v, want ok=%v reset=+%v", s.at, ok, reset.Sub(t0), s.ok, s.wantReset)
		}
	}
	if ok, _, _ := d.Claim(ctx, "other", t0.Add(12*time.Minute)); !ok {
		t.Fatal("a new key was refused")
	}
	if err := d.Forget(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if e.rawItem(t, "dedup#k", "dedup") != nil {
		t.Fatal("Forget left the record")
	}
	if ok, _, _ := d.Claim(ctx, "k", t0.Add(13*time.Minute)); !ok {
		t.Fatal("a forgotten key was refused")
	}
	if err := d.Forget(ctx, "never-claimed"); err != nil {
		t.Fatalf("forgetting an unknown key: %v", err)
	}
}

// TestDedupAgreesWithMemory: for events spaced as Flux's controllers send
// them, the shared record decides like local mode's memory Deduper.
func TestDedupAgreesWithMemory(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{DedupInterval: time.Minute})
	d := e.store.Deduper()
	m := memory.NewDeduper(time.Minute)
	ctx := context.Background()
	t0 := testEpoch
	for _, at := range []time.Duration{0, 10 * time.Second, 59 * time.Second, time.Minute, 90 * time.Second, 2*time.Minute + 30*time.Second} {
		okD, resetD, err := d.Claim(ctx, "k", t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		okM, resetM, _ := m.Claim(ctx, "k", t0.Add(at))
		if okD != okM {
			t.Errorf("at +%v: dynamo ok=%v, memory ok=%v", at, okD, okM)
		}
		if !okD && !resetD.Equal(resetM) {
			t.Errorf("at +%v: dynamo reset +%v, memory +%v", at, resetD.Sub(t0), resetM.Sub(t0))
		}
	}
}

func TestErrorsNameOperationAndKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	s := New(e.client, e.table+"-missing", Options{})
	_, _, err := s.Deduper().Claim(context.Background(), "prod/abc", time.Now())
	if err == nil || !strings.Contains(err.Error(), "PutItem") || !strings.Contains(err.Error(), "dedup#prod/abc") {
		t.Errorf("claim on a missing table: %v; want the operation and the key", err)
	}
	_, err = s.ClaimDelivery(context.Background(), "job-1", time.Minute)
	if err == nil || !strings.Contains(err.Error(), "delivery#job-1") {
		t.Errorf("delivery claim on a missing table: %v", err)
	}
}

func BenchmarkDeduperClaim(b *testing.B) {
	e := newEnv(b, Options{})
	d := e.store.Deduper()
	ctx := context.Background()
	now := time.Now()
	b.Run("new-key", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if ok, _, err := d.Claim(ctx, fmt.Sprintf("new/%d", i), now); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("duplicate", func(b *testing.B) {
		if _, _, err := d.Claim(ctx, "dup", now); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if ok, _, err := d.Claim(ctx, "dup", now); err != nil || ok {
				b.Fatal(ok, err)
			}
		}
	})
	// RunParallel's function runs once per calibration round: keys stay
	// unique across rounds.
	var seq atomic.Int64
	b.Run("new-key-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := d.Claim(ctx, fmt.Sprintf("par/%d", seq.Add(1)), now); err != nil || !ok {
					b.Error(ok, err)
					return
				}
			}
		})
	})
}
