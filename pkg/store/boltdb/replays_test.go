package boltdb

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
)

// TestReplaysSurviveRestart: a signature recorded with a claim or alone is
// in the file once Close returns (the writes behind are committed), a
// reopened store refuses it again until it expires, and the sweep deletes
// it from the file after that.
func TestReplaysSurviveRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	t0 := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	event := store.Signature{Key: "prod/event", Expires: t0.Add(5*time.Minute + time.Second)}
	poll := store.Signature{Key: "prod/poll", Expires: t0.Add(5*time.Minute + time.Second)}

	s, err := Open(path, Options{DedupInterval: time.Minute, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	if replayed, ok, _, err := s.Deduper().ClaimSigned(ctx, "k", event, t0); replayed || !ok || err != nil {
		t.Fatalf("ClaimSigned = %v, %v, %v", replayed, ok, err)
	}
	if replayed, err := s.Deduper().Seen(ctx, poll, t0); replayed || err != nil {
		t.Fatalf("Seen = %v, %v", replayed, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Two minutes later: the window of "k" has ended, its signature has not.
	at := t0.Add(2 * time.Minute)
	s = openAt(t, path, Options{DedupInterval: time.Minute, Now: func() time.Time { return at }})
	d := s.Deduper()
	if replayed, _, _, err := d.ClaimSigned(ctx, "k", event, at); !replayed || err != nil {
		t.Errorf("after a restart, ClaimSigned of the event's signature = %v, %v; want a replay", replayed, err)
	}
	if replayed, err := d.Seen(ctx, poll, at); !replayed || err != nil {
		t.Errorf("after a restart, Seen of the poll's signature = %v, %v; want a replay", replayed, err)
	}
	if _, ok, _, err := d.ClaimSigned(ctx, "k", store.Signature{Key: "prod/fresh", Expires: at.Add(5 * time.Minute)}, at); !ok || err != nil {
		t.Errorf("a fresh signature of the event = %v, %v; want its claim", ok, err)
	}

	// The sweep, due a minute after the last, drops the expired ones.
	later := t0.Add(6 * time.Minute)
	if replayed, err := d.Seen(ctx, store.Signature{Key: "prod/late", Expires: later.Add(5 * time.Minute)}, later); replayed || err != nil {
		t.Fatalf("Seen(late) = %v, %v", replayed, err)
	}
	if err := s.log.flush(); err != nil { // the writes behind are in the file
		t.Fatal(err)
	}
	var keys int
	if err := s.db.View(func(tx *bolt.Tx) error {
		keys = tx.Bucket(bucketReplays).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if keys != 2 { // prod/fresh and prod/late
		t.Errorf("%d signatures in the file after the sweep, want 2", keys)
	}
}
