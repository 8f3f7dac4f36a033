package dynamo

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/receiver"
)

func gitRepo(name string) receiver.ReconcileRequest {
	return receiver.ReconcileRequest{
		APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "flux-system", Name: name,
		Receiver: "flux-system/github",
	}
}

func TestReconcileRequests(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{ReconcileTTL: time.Hour})
	s := e.store
	ctx := context.Background()
	t0 := e.clock.Now()

	put := func(cluster string, reqs ...receiver.ReconcileRequest) []receiver.ReconcileRequest {
		t.Helper()
		if err := s.PutReconcileRequests(ctx, cluster, reqs); err != nil {
			t.Fatal(err)
		}
		return reqs
	}
	old := put("prod", gitRepo("old"))[0]
	if want := fmt.Sprintf("%020d", t0.UnixNano()); old.ID != want {
		t.Fatalf("ID %q, want %q", old.ID, want)
	}
	sk := old.ID + "#GitRepository#flux-system#old"
	item := e.rawItem(t, "reconcile#prod", sk)
	for attr, want := range map[string]string{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "namespace": "flux-system",
		"name": "old", "receiver": "flux-system/github", "requestedAt": t0.Format(time.RFC3339Nano),
	} {
		if got := getS(item, attr); got != want {
			t.Errorf("attribute %s = %q, want %q", attr, got, want)
		}
	}
	if exp, _ := getN(item, "expiresAt"); exp != t0.Add(time.Hour).Unix() {
		t.Errorf("expiresAt %d, want an hour on", exp)
	}

	e.clock.Advance(40 * time.Minute)
	labelled := receiver.ReconcileRequest{
		APIVersion: "image.toolkit.fluxcd.io/v1", Kind: "ImageRepository", Namespace: "apps", Name: "*",
		MatchLabels: map[string]string{"team": "a", "tier": "web"}, Receiver: "apps/harbor",
		RequestedAt: t0.Add(40*time.Minute - time.Second),
	}
	// One webhook's requests, recorded together, get distinct IDs in order.
	batch := put("prod", gitRepo("mid"), labelled)
	if batch[0].ID >= batch[1].ID {
		t.Fatalf("IDs %q and %q of one call are not increasing", batch[0].ID, batch[1].ID)
	}
	e.clock.Advance(21 * time.Minute) // old has expired, the batch has not
	recent := put("prod", gitRepo("recent"))[0]
	put("*", receiver.ReconcileRequest{Kind: "Kustomization", Namespace: "apps", Name: "everywhere"})

	got, err := s.ListReconcileRequests(ctx, "prod", "", 100)
	if err != nil {
		t.Fatal(err)
	}
	want := []receiver.ReconcileRequest{batch[0], batch[1], recent}
	for i := range want {
		want[i].RequestedAt = want[i].RequestedAt.UTC()
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("listed\n%+v\nwant\n%+v", got, want)
	}
	// The expired request is still in the table, but no read returns it.
	if e.rawItem(t, "reconcile#prod", sk) == nil {
		t.Fatal("the expired item is gone; the test wants it present")
	}
	if got, _ := s.ListReconcileRequests(ctx, "prod", batch[0].ID, 100); len(got) != 2 || got[0].Name != "*" {
		t.Errorf("after the first: %+v, want the labelled one and recent", got)
	}
	if got, _ := s.ListReconcileRequests(ctx, "prod", "", 1); len(got) != 1 || got[0].Name != "mid" {
		t.Errorf("limit 1: %+v", got)
	}
	if got, _ := s.ListReconcileRequests(ctx, "*", "", 100); len(got) != 1 || got[0].Name != "everywhere" {
		t.Errorf("cluster *: %+v", got)
	}

	if err := s.AckReconcileRequests(ctx, "prod", batch[0], batch[0], gitRepo("never-recorded")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ListReconcileRequests(ctx, "prod", "", 100); err != nil || len(got) != 2 || got[0].Name != "*" {
		t.Errorf("after the ack: %+v, %v", got, err)
	}
	if err := s.PutReconcileRequests(ctx, "", []receiver.ReconcileRequest{gitRepo("x")}); err == nil {
		t.Error("a request without cluster was stored")
	}
}

func TestReconcileRequestPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{ReconcileTTL: time.Hour})
	s := e.store
	ctx := context.Background()
	// 30 requests that will have expired, then 230 live ones, 10 per call.
	for i := range 26 {
		if i == 3 {
			e.clock.Advance(59 * time.Minute)
		}
		reqs := make([]receiver.ReconcileRequest, 10)
		for j := range reqs {
			reqs[j] = gitRepo(fmt.Sprint("repo-", i*10+j))
		}
		if err := s.PutReconcileRequests(ctx, "prod", reqs); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(time.Millisecond)
	}
	e.clock.Advance(2 * time.Minute)
	var all []receiver.ReconcileRequest
	polls := 0
	for cursor := ""; ; polls++ {
		got, err := s.ListReconcileRequests(ctx, "prod", cursor, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 {
			break
		}
		all = append(all, got...)
		cursor = got[len(got)-1].ID
	}
	if len(all) != 230 || polls != 3 {
		t.Fatalf("%d requests in %d polls, want 230 in 3", len(all), polls)
	}
	for i := range all {
		if want := fmt.Sprint("repo-", i+30); all[i].Name != want {
			t.Fatalf("request %d is %s, want %s", i, all[i].Name, want)
		}
	}
	if err := s.AckReconcileRequests(ctx, "prod", all...); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.ListReconcileRequests(ctx, "prod", "", 100); len(got) != 0 {
		t.Fatalf("%d left after acking all", len(got))
	}
}
