package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

func TestDeliveryIdempotency(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{DeliveryTTL: 24 * time.Hour})
	s := e.store
	ctx := context.Background()
	t0 := e.clock.Now()

	first, err := s.ClaimDelivery(ctx, "job-1", 30*time.Second)
	if err != nil || first.State != store.Claimed || first.Token == "" {
		t.Fatalf("first claim: %+v, %v", first, err)
	}
	if !first.LeaseUntil.Equal(t0.Add(30 * time.Second)) {
		t.Errorf("lease until %v, want %v", first.LeaseUntil, t0.Add(30*time.Second))
	}
	item := e.rawItem(t, "delivery#job-1", "delivery")
	if getS(item, "state") != "claimed" {
		t.Errorf("state %q, want claimed", getS(item, "state"))
	}
	if exp, _ := getN(item, "expiresAt"); exp != t0.Add(24*time.Hour).Unix() {
		t.Errorf("expiresAt %d, want 24h on", exp)
	}

	// Another worker, within the lease: in progress, with the lease's end.
	e.clock.Advance(10 * time.Second)
	e.counter.Reset()
	other, err := s.ClaimDelivery(ctx, "job-1", 30*time.Second)
	if err != nil || other.State != store.InProgress || !other.LeaseUntil.Equal(first.LeaseUntil) {
		t.Fatalf("claim within the lease: %+v, %v; want in progress until %v", other, err, first.LeaseUntil)
	}
	if e.counter.Total() != 1 {
		t.Errorf("a refused claim made %v, want one PutItem", e.counter.Counts())
	}

	// The first worker crashed: once its lease ran out, the job is claimed
	// again, and the crashed worker's release does not undo that.
	e.clock.Advance(20 * time.Second)
	second, err := s.ClaimDelivery(ctx, "job-1", 30*time.Second)
	if err != nil || second.State != store.Claimed || second.Token == first.Token {
		t.Fatalf("claim after the lease: %+v, %v", second, err)
	}
	if err := s.ReleaseDelivery(ctx, "job-1", first.Token); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.ClaimDelivery(ctx, "job-1", 30*time.Second); r.State != store.InProgress {
		t.Fatalf("a stale token released the claim: %+v", r)
	}
	// A failed attempt releases its own claim, so the retry need not wait.
	if err := s.ReleaseDelivery(ctx, "job-1", second.Token); err != nil {
		t.Fatal(err)
	}
	third, err := s.ClaimDelivery(ctx, "job-1", 30*time.Second)
	if err != nil || third.State != store.Claimed {
		t.Fatalf("claim after a release: %+v, %v", third, err)
	}

	if err := s.CompleteDelivery(ctx, "job-1"); err != nil {
		t.Fatal(err)
	}
	if getS(e.rawItem(t, "delivery#job-1", "delivery"), "state") != "done" {
		t.Fatal("state is not done")
	}
	e.clock.Advance(time.Hour)
	if r, err := s.ClaimDelivery(ctx, "job-1", 30*time.Second); err != nil || r.State != store.AlreadyDone {
		t.Fatalf("claim of a done job: %+v, %v; want already done", r, err)
	}
	if err := s.ReleaseDelivery(ctx, "job-1", third.Token); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.ClaimDelivery(ctx, "job-1", 30*time.Second); r.State != store.AlreadyDone {
		t.Fatalf("a release undid the completion: %+v", r)
	}

	// The record expires 24h after completion; until DynamoDB removes it,
	// it is still there but ignored.
	e.clock.Advance(23*time.Hour + time.Second)
	if e.rawItem(t, "delivery#job-1", "delivery") == nil {
		t.Fatal("the record is gone already")
	}
	if r, err := s.ClaimDelivery(ctx, "job-1", 30*time.Second); err != nil || r.State != store.Claimed {
		t.Fatalf("claim of an expired record: %+v, %v; want claimed", r, err)
	}
	// Completing a job whose record is gone records it done.
	if err := s.CompleteDelivery(ctx, "job-2"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.ClaimDelivery(ctx, "job-2", time.Second); r.State != store.AlreadyDone {
		t.Fatalf("job-2: %+v", r)
	}
}

// A delivery released for a retry is listed as pending with its last
// error, is claimable at once, and is no longer listed once claimed; a
// stale token neither releases nor lists it.
func TestReleaseForRetryListsPending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{DeliveryTTL: 24 * time.Hour})
	s := e.store
	ctx := context.Background()
	t0 := e.clock.Now()

	claim, err := s.ClaimDelivery(ctx, "job-r", time.Minute)
	if err != nil || claim.State != store.Claimed {
		t.Fatalf("claim: %+v, %v", claim, err)
	}
	if err := s.ReleaseForRetry(ctx, "job-r", "not-my-token", store.DeliveryRecord{Job: []byte(`{}`), LastError: "stale"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListPendingDeliveries(ctx); len(got) != 0 {
		t.Fatalf("a stale token's release is listed: %+v", got)
	}
	pending := store.DeliveryRecord{
		Job:         []byte(`{"id":"job-r","state":"pending","attempts":3}`),
		LastError:   "request failed with status code 503",
		NextAttempt: t0.Add(16 * time.Second),
		Updated:     t0,
	}
	if err := s.ReleaseForRetry(ctx, "job-r", claim.Token, pending); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListPendingDeliveries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := pending
	want.ID = "job-r"
	if len(got) != 1 || got[0].ID != want.ID || string(got[0].Job) != string(want.Job) || got[0].LastError != want.LastError ||
		!got[0].NextAttempt.Equal(want.NextAttempt) || !got[0].Updated.Equal(want.Updated) {
		t.Fatalf("pending %+v, want %+v", got, want)
	}

	again, err := s.ClaimDelivery(ctx, "job-r", time.Minute)
	if err != nil || again.State != store.Claimed {
		t.Fatalf("claim of a pending delivery: %+v, %v; want claimed at once", again, err)
	}
	if got, _ := s.ListPendingDeliveries(ctx); len(got) != 0 {
		t.Fatalf("a claimed delivery is listed as pending: %+v", got)
	}
}
