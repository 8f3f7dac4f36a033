// Package storetest holds the contract tests that every implementation of
// a pkg/store port must pass, so that local mode and AWS behave alike.
package storetest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// StatusOrder checks o against the store.StatusOrder contract: a later
// or equal time advances, an earlier one is refused, keys are apart, and
// of concurrent writers of one key the latest time is what stays.
func StatusOrder(t *testing.T, o store.StatusOrder) {
	t.Helper()
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	steps := []struct {
		key  string
		at   time.Time
		want bool
	}{
		{"github/a1af/kustomization/podinfo", t0, true},
		{"github/a1af/kustomization/podinfo", t0, true},                       // a retry of the same event
		{"github/a1af/kustomization/podinfo", t0.Add(time.Second), true},      // a newer event
		{"github/a1af/kustomization/podinfo", t0, false},                      // the older one, late
		{"github/a1af/kustomization/podinfo", t0.Add(time.Nanosecond), false}, // still older
		{"github/b2c3/kustomization/podinfo", t0, true},                       // another commit
	}
	for i, s := range steps {
		ok, err := o.Advance(ctx, s.key, s.at)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if ok != s.want {
			t.Errorf("step %d: Advance(%s, %s) = %v, want %v", i, s.key, s.at.Format(time.RFC3339Nano), ok, s.want)
		}
	}

	// Racing deliveries of one status: afterwards nothing older than the
	// newest time is let through.
	const writers = 8
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := o.Advance(ctx, "race", t0.Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok, _ := o.Advance(ctx, "race", t0.Add((writers-2)*time.Second)); ok {
		t.Error("after racing writers, an older time than the newest was let through")
	}
	if ok, _ := o.Advance(ctx, "race", t0.Add((writers-1)*time.Second)); !ok {
		t.Error("after racing writers, the newest time was refused")
	}
}
