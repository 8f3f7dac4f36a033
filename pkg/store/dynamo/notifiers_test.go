package dynamo

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/natstest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/nats"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// Config refreshes reuse the notifier of an unchanged Provider, so a NATS
// Provider keeps one connection however often a warm Lambda reloads; a
// changed Provider's old connection is closed, and so is a removed one's.
// The connections are counted on a real nats-server.
func TestRefreshesKeepOneNATSConnection(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	e := newEnv(t, Options{Logger: discardLogger()})
	ctx := context.Background()
	p := api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: v1beta3, Kind: api.KindProvider},
		Metadata: meta("", "apps", "bus"),
		Spec:     api.ProviderSpec{Type: "nats", Address: srv.URL, Channel: "flux.events"},
	}
	if _, err := e.store.PutObject(ctx, p); err != nil {
		t.Fatal(err)
	}
	owned := notifiers.New(nats.New)
	t.Cleanup(owned.Close)
	c := config.NewCached(e.store, owned, config.CachedOptions{TTL: time.Minute, Now: e.clock.Now, Logger: discardLogger()})
	targets := config.Targets(c)
	send := func() {
		t.Helper()
		target, err := targets(delivery.ProviderRef{Namespace: "apps", Name: "bus"})
		if err != nil {
			t.Fatal(err)
		}
		defer target.Release()
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if _, err := target.Notifier.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
			t.Fatal(err)
		}
	}

	send()
	for range 2 {
		e.clock.Advance(time.Minute)
		send()
	}
	if st := c.Stats(); st.Loads != 3 {
		t.Fatalf("%d config loads, want 3", st.Loads)
	}
	conns := srv.WaitConnections(t, nats.ConnectionName, 1)
	if len(conns) != 1 || conns[0].InMsgs != 3 {
		t.Fatalf("after two refreshes: connections %+v, want one that carried all 3 events", conns)
	}

	p.Spec.Channel = "flux.other"
	if _, err := e.store.PutObject(ctx, p); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	send()
	changed := srv.WaitConnections(t, nats.ConnectionName, 1)
	if len(changed) != 1 || changed[0].CID == conns[0].CID {
		t.Fatalf("after a change: connections %+v, want only a new one (the old was cid %d)", changed, conns[0].CID)
	}

	if _, err := e.store.DeleteObject(ctx, api.KindProvider, "", "apps", "bus"); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)
	c.Snapshot()
	if left := srv.WaitConnections(t, nats.ConnectionName, 0); len(left) != 0 {
		t.Fatalf("after the Provider was removed: connections %+v, want none", left)
	}
}
