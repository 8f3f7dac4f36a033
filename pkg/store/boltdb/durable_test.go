package boltdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
)

// Everything a call returned survives Close and Open: the windows, the
// requests and their sequence, the status times and the journal.
func TestDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	clock := &fakeClock{t: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)}
	opts := Options{Now: clock.Now}
	t0 := clock.Now()

	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := s.Deduper().Claim(ctx, "k", t0); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
	reqs := []receiver.ReconcileRequest{{Kind: "GitRepository", Namespace: "flux-system", Name: "a", RequestedAt: t0}}
	if err := s.PutReconcileRequests(ctx, "prod", reqs); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.StatusOrder().Advance(ctx, "status", t0); !ok || err != nil {
		t.Fatalf("Advance = %v, %v", ok, err)
	}
	rec := store.DeliveryRecord{ID: "job", Job: []byte(`{"x":1}`), Updated: t0}
	if err := s.PutDeliveries(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openAt(t, path, opts)
	if ok, reset, _ := s.Deduper().Claim(ctx, "k", t0.Add(time.Minute)); ok || !reset.Equal(t0.Add(DefaultDedupInterval)) {
		t.Errorf("after reopening, Claim = %v, reset %v; want false, %v", ok, reset, t0.Add(DefaultDedupInterval))
	}
	got, err := s.ListReconcileRequests(ctx, "prod", "", 10)
	if err != nil || len(got) != 1 || got[0].ID != reqs[0].ID {
		t.Errorf("after reopening, requests %+v, %v; want the one of ID %s", got, err, reqs[0].ID)
	}
	// The sequence goes on: a request of the same time sorts after.
	more := []receiver.ReconcileRequest{{Kind: "GitRepository", Namespace: "flux-system", Name: "b", RequestedAt: t0}}
	if err := s.PutReconcileRequests(ctx, "prod", more); err != nil {
		t.Fatal(err)
	}
	if more[0].ID <= reqs[0].ID {
		t.Errorf("after reopening, ID %s does not sort after %s", more[0].ID, reqs[0].ID)
	}
	if ok, _ := s.StatusOrder().Advance(ctx, "status", t0.Add(-time.Second)); ok {
		t.Error("after reopening, an older status time was let through")
	}
	recs, err := s.ListDeliveries(ctx, false)
	if err != nil || len(recs) != 1 || recs[0].ID != "job" || string(recs[0].Job) != `{"x":1}` {
		t.Errorf("after reopening, journal %+v, %v; want the job", recs, err)
	}
}
