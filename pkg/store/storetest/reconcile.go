package storetest

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/receiver/resourcefilter"
	"github.com/heraldhq/herald/pkg/store"
)

// ReconcileRequests checks the store.ReconcileRequests contract on an
// empty r that keeps requests for at least an hour: requests come back
// with their fields, oldest first, under IDs the poll cursor accepts and
// that sort after those of earlier puts; after and limit page through
// them; clusters are apart.
//
// Requests are stamped with the real time, to be within the TTL of a store
// on the real clock.
func ReconcileRequests(t *testing.T, r store.ReconcileRequests) {
	t.Helper()
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	// The largest filter the receiver sends must come back whole.
	bigFilter := `res.metadata.name in ["` + strings.Repeat("x", resourcefilter.MaxResidualBytes-40) + `"]`
	req := func(name string, at time.Duration) receiver.ReconcileRequest {
		r := receiver.ReconcileRequest{
			APIVersion:  "source.toolkit.fluxcd.io/v1",
			Kind:        "GitRepository",
			Namespace:   "flux-system",
			Name:        name,
			MatchLabels: map[string]string{"app": name},
			Receiver:    "flux-system/github",
			RequestedAt: base.Add(at),
		}
		switch name {
		case "b":
			r.Filter = `res.metadata.labels.env == "prod" && res.metadata.name.startsWith("app-")`
		case "c":
			r.Filter = bigFilter
		}
		return r
	}
	first := []receiver.ReconcileRequest{req("a", 0), req("b", time.Second), req("c", 2*time.Second)}
	if err := r.PutReconcileRequests(ctx, "prod", first); err != nil {
		t.Fatal(err)
	}
	if err := r.PutReconcileRequests(ctx, store.AllClusters, []receiver.ReconcileRequest{req("everywhere", 0)}); err != nil {
		t.Fatal(err)
	}
	if err := r.PutReconcileRequests(ctx, "prod", []receiver.ReconcileRequest{req("d", 3*time.Second)}); err != nil {
		t.Fatal(err)
	}

	list := func(cluster, after string, limit int) []receiver.ReconcileRequest {
		t.Helper()
		reqs, err := r.ListReconcileRequests(ctx, cluster, after, limit)
		if err != nil {
			t.Fatalf("ListReconcileRequests(%s, %q, %d): %v", cluster, after, limit, err)
		}
		return reqs
	}
	names := func(reqs []receiver.ReconcileRequest) string {
		var n []string
		for _, r := range reqs {
			n = append(n, r.Name)
		}
		return strings.Join(n, ",")
	}

	all := list("prod", "", 10)
	if got := names(all); got != "a,b,c,d" {
		t.Fatalf("prod lists %q, want a,b,c,d", got)
	}
	for i, got := range all {
		want := req(got.Name, time.Duration(i)*time.Second)
		want.ID = got.ID
		if !got.RequestedAt.Equal(want.RequestedAt) {
			t.Errorf("%s: RequestedAt %v, want %v", got.Name, got.RequestedAt, want.RequestedAt)
		}
		got.RequestedAt = want.RequestedAt
		if !reflect.DeepEqual(got, want) {
			t.Errorf("request %d = %+v, want %+v", i, got, want)
		}
		// The poll handler takes back only digits and '-'.
		if got.ID == "" || strings.ContainsFunc(got.ID, func(c rune) bool { return c != '-' && (c < '0' || c > '9') }) {
			t.Errorf("%s: ID %q is not a cursor the poll handler accepts", got.Name, got.ID)
		}
		if i > 0 && got.ID <= all[i-1].ID {
			t.Errorf("%s: ID %q does not sort after the one before, %q", got.Name, got.ID, all[i-1].ID)
		}
	}

	pages := []struct {
		after string
		limit int
		want  string
	}{
		{"", 2, "a,b"},
		{all[1].ID, 10, "c,d"},
		{all[2].ID, 1, "d"},
		{all[3].ID, 10, ""},
		{"", 0, ""},
	}
	for _, p := range pages {
		if got := names(list("prod", p.after, p.limit)); got != p.want {
			t.Errorf("prod after %q limit %d lists %q, want %q", p.after, p.limit, got, p.want)
		}
	}
	if got := names(list(store.AllClusters, "", 10)); got != "everywhere" {
		t.Errorf("%s lists %q, want everywhere", store.AllClusters, got)
	}
	if got := names(list("staging", "", 10)); got != "" {
		t.Errorf("a cluster with no requests lists %q", got)
	}
}
