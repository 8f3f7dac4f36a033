package dynamo

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestReconcileRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{ReconcileTTL: time.Hour})
	s := e.store
	ctx := context.Background()
	t0 := e.clock.Now()

	put := func(name string) ReconcileRequest {
		t.Helper()
		r, err := s.PutReconcileRequest(ctx, "prod", ReconcileRequest{
			APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "flux-system", Name: name,
			Receiver: "flux-system/github",
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	old := put("old")
	if want := fmt.Sprintf("%020d#GitRepository#flux-system#old", t0.UnixNano()); old.ID != want {
		t.Fatalf("ID %q, want %q", old.ID, want)
	}
	item := e.rawItem(t, "reconcile#prod", old.ID)
	for attr, want := range map[string]string{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "namespace": "flux-system",
		"name": "old", "receiver": "flux-system/github", "requestedAt": "2026-11-22T03:00:00Z",
	} {
		if got := getS(item, attr); got != want {
			t.Errorf("attribute %s = %q, want %q", attr, got, want)
		}
	}
	if exp, _ := getN(item, "expiresAt"); exp != t0.Add(time.Hour).Unix() {
		t.Errorf("expiresAt %d, want an hour on", exp)
	}

	e.clock.Advance(40 * time.Minute)
	mid := put("mid")
	e.clock.Advance(21 * time.Minute) // old has expired, mid has not
	recent := put("recent")
	if _, err := s.PutReconcileRequest(ctx, "staging", ReconcileRequest{Kind: "Kustomization", Namespace: "apps", Name: "other"}); err != nil {
		t.Fatal(err)
	}

	got, next, err := s.ListReconcileRequests(ctx, "prod", "")
	if err != nil {
		t.Fatal(err)
	}
	if next != "" || len(got) != 2 || got[0].ID != mid.ID || got[1].ID != recent.ID {
		t.Fatalf("listed %+v next=%q; want mid and recent", got, next)
	}
	if !got[0].RequestedAt.Equal(mid.RequestedAt) || got[0].Receiver != "flux-system/github" {
		t.Errorf("listed %+v, want %+v", got[0], mid)
	}
	// The expired request is still in the table, but no read returns it.
	if e.rawItem(t, "reconcile#prod", old.ID) == nil {
		t.Fatal("the expired item is gone; the test wants it present")
	}
	if got, _, _ := s.ListReconcileRequests(ctx, "prod", mid.ID); len(got) != 1 || got[0].ID != recent.ID {
		t.Errorf("after mid: %+v, want recent", got)
	}

	if err := s.AckReconcileRequests(ctx, "prod", mid.ID, mid.ID, "no-such-id"); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.ListReconcileRequests(ctx, "prod", ""); len(got) != 1 || got[0].ID != recent.ID {
		t.Errorf("after the ack: %+v, want recent only", got)
	}
	if got, _, _ := s.ListReconcileRequests(ctx, "staging", ""); len(got) != 1 || got[0].Name != "other" {
		t.Errorf("staging: %+v", got)
	}
	if _, err := s.PutReconcileRequest(ctx, "", ReconcileRequest{Kind: "K", Namespace: "n", Name: "x"}); err == nil {
		t.Error("a request without cluster was stored")
	}
}

func TestReconcileRequestPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{ReconcileTTL: time.Hour})
	s := e.store
	ctx := context.Background()
	// 30 requests that will have expired, then 230 live ones.
	for i := range 260 {
		if i == 30 {
			e.clock.Advance(59 * time.Minute)
		}
		if _, err := s.PutReconcileRequest(ctx, "prod", ReconcileRequest{Kind: "Kustomization", Namespace: "apps", Name: fmt.Sprint("k", i)}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Millisecond)
	}
	e.clock.Advance(2 * time.Minute)
	var all []string
	pages := 0
	for cursor := ""; ; {
		got, next, err := s.ListReconcileRequests(ctx, "prod", cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(got) > 100 {
			t.Fatalf("a page of %d", len(got))
		}
		for _, r := range got {
			all = append(all, r.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 230 || pages != 3 {
		t.Fatalf("%d requests in %d pages, want 230 in 3", len(all), pages)
	}
	for i := 1; i < len(all); i++ {
		if all[i-1] >= all[i] {
			t.Fatalf("out of order at %d", i)
		}
	}
	if err := s.AckReconcileRequests(ctx, "prod", all...); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := s.ListReconcileRequests(ctx, "prod", ""); len(got) != 0 {
		t.Fatalf("%d left after acking all", len(got))
	}
}
