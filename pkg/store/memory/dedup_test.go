package memory

import (
	"context"
	"testing"
	"time"
)

func TestDeduperWindows(t *testing.T) {
	ctx := context.Background()
	d := NewDeduper(5 * time.Minute)
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	steps := []struct {
		at        time.Duration
		ok        bool
		wantReset time.Duration
	}{
		{0, true, 5 * time.Minute},
		{time.Minute, false, 5 * time.Minute},
		{5*time.Minute - time.Second, false, 5 * time.Minute},
		// The window is a fixed tick from first sight, not sliding.
		{5 * time.Minute, true, 10 * time.Minute},
		{9 * time.Minute, false, 10 * time.Minute},
		{12 * time.Minute, true, 15 * time.Minute},
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
	if ok, _, _ := d.Claim(ctx, "k", t0.Add(13*time.Minute)); !ok {
		t.Fatal("a forgotten key was refused")
	}
}

func TestDeduperSweepsOldKeys(t *testing.T) {
	d := NewDeduper(time.Minute)
	t0 := time.Now()
	for i := range 1000 {
		d.Claim(context.Background(), string(rune('a'+i%26))+time.Duration(i).String(), t0)
	}
	// Three intervals later every key's last window ended over an interval ago.
	d.Claim(context.Background(), "trigger", t0.Add(3*time.Minute))
	total := 0
	for i := range d.shards {
		d.shards[i].sweep(t0.Add(3*time.Minute), time.Minute)
		total += len(d.shards[i].entries)
	}
	if total > 1 {
		t.Fatalf("%d keys left after sweeping, want at most 1", total)
	}
}
