package boltdb

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/storetest"
)

func TestReconcileRequestsContract(t *testing.T) {
	storetest.ReconcileRequests(t, openStore(t, Options{}))
}

// clusterKeys returns the number of requests kept for cluster, expired or
// not, and -1 when it has no bucket.
func clusterKeys(t *testing.T, s *Store, cluster string) int {
	t.Helper()
	n := -1
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReconcile).Bucket([]byte(cluster))
		if b == nil {
			return nil
		}
		n = b.Stats().KeyN
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// IDs are the memory store's; requests older than the TTL are skipped at
// once, and deleted, from every cluster, by the next put.
func TestReconcileRequestsExpire(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	s := openStore(t, Options{ReconcileTTL: time.Hour, Now: clock.Now})
	req := func(name string, at time.Time) receiver.ReconcileRequest {
		return receiver.ReconcileRequest{Kind: "GitRepository", Namespace: "flux-system", Name: name, RequestedAt: at}
	}
	prod := []receiver.ReconcileRequest{req("a", t0.Add(-30*time.Minute)), req("b", time.Time{})}
	if err := s.PutReconcileRequests(ctx, "prod", prod); err != nil {
		t.Fatal(err)
	}
	everywhere := []receiver.ReconcileRequest{req("c", t0.Add(-50*time.Minute))}
	if err := s.PutReconcileRequests(ctx, store.AllClusters, everywhere); err != nil {
		t.Fatal(err)
	}
	// The IDs are set in the caller's requests, with a zero time as now.
	if !prod[1].RequestedAt.Equal(t0) {
		t.Errorf("a zero RequestedAt became %v, want now, %v", prod[1].RequestedAt, t0)
	}
	idFormat := regexp.MustCompile(`^[0-9]{20}-[0-9]{8}$`)
	for i, r := range append(prod, everywhere...) {
		want := fmt.Sprintf("%020d-", r.RequestedAt.UnixNano())
		if !idFormat.MatchString(r.ID) || r.ID[:21] != want {
			t.Errorf("request %d: ID %q, want %s<8-digit sequence>", i, r.ID, want)
		}
	}

	names := func(cluster string) string {
		t.Helper()
		reqs, err := s.ListReconcileRequests(ctx, cluster, "", 10)
		if err != nil {
			t.Fatal(err)
		}
		var out string
		for _, r := range reqs {
			out += r.Name
		}
		return out
	}
	clock.Advance(20 * time.Minute) // c was requested 70 minutes ago, a 50
	if got := names("prod"); got != "ab" {
		t.Errorf("prod lists %q, want ab", got)
	}
	if got := names(store.AllClusters); got != "" {
		t.Errorf("%s lists %q, want nothing: c expired", store.AllClusters, got)
	}
	if n := clusterKeys(t, s, store.AllClusters); n != 1 {
		t.Errorf("%s keeps %d requests before the next put, want 1", store.AllClusters, n)
	}

	clock.Advance(15 * time.Minute) // a was requested 65 minutes ago
	if err := s.PutReconcileRequests(ctx, "staging", []receiver.ReconcileRequest{req("d", time.Time{})}); err != nil {
		t.Fatal(err)
	}
	if n := clusterKeys(t, s, "prod"); n != 1 {
		t.Errorf("prod keeps %d requests after a put elsewhere, want 1 (b)", n)
	}
	if n := clusterKeys(t, s, store.AllClusters); n != -1 {
		t.Errorf("%s keeps a bucket of %d requests, want none", store.AllClusters, n)
	}
	if got := names("prod") + "," + names("staging"); got != "b,d" {
		t.Errorf("prod,staging list %q, want b,d", got)
	}
}

func TestReconcileRequestsNeedACluster(t *testing.T) {
	s := openStore(t, Options{})
	reqs := []receiver.ReconcileRequest{{Kind: "GitRepository", Namespace: "flux-system", Name: "a"}}
	if err := s.PutReconcileRequests(context.Background(), "", reqs); err == nil {
		t.Error("a put without a cluster succeeded")
	}
}
