package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
)

func TestConfigRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := context.Background()
	s := e.store

	p := testProvider("", "flux-system", "slack")
	change, err := s.PutObject(ctx, p)
	if err != nil || change != Created {
		t.Fatalf("first put: %v, %v; want created", change, err)
	}

	// The item is laid out as docs/aws.md fixes it.
	item := e.rawItem(t, "config", "Provider#*#flux-system#slack")
	if item == nil {
		t.Fatal("no item at pk=config sk=Provider#*#flux-system#slack")
	}
	for attr, want := range map[string]string{
		"kind": "Provider", "apiVersion": v1beta3, "cluster": "*", "namespace": "flux-system", "name": "slack",
	} {
		if got := getS(item, attr); got != want {
			t.Errorf("attribute %s = %q, want %q", attr, got, want)
		}
	}
	if gen, _ := getN(item, "generation"); gen != 1 {
		t.Errorf("generation = %d, want 1", gen)
	}
	if getS(item, "updatedAt") != testEpoch.Format(time.RFC3339) {
		t.Errorf("updatedAt = %q", getS(item, "updatedAt"))
	}
	var doc api.Provider
	if err := json.Unmarshal([]byte(getS(item, "doc")), &doc); err != nil || !reflect.DeepEqual(doc, p) {
		t.Errorf("doc = %s (%v), want the Provider as JSON", getS(item, "doc"), err)
	}

	// Applying the same object again writes nothing.
	e.counter.Reset()
	if change, err := s.PutObject(ctx, &p); err != nil || change != Unchanged {
		t.Fatalf("second put: %v, %v; want unchanged", change, err)
	}
	if c := e.counter.Counts(); c["GetItem"] != 1 || len(c) != 1 {
		t.Errorf("an unchanged apply made %v, want one GetItem", c)
	}

	p.Spec.Channel = "alerts"
	if change, err := s.PutObject(ctx, p); err != nil || change != Configured {
		t.Fatalf("changed put: %v, %v; want configured", change, err)
	}

	// A Provider of the same name scoped to a cluster is another object.
	scoped := testProvider("prod", "flux-system", "slack")
	if change, err := s.PutObject(ctx, scoped); err != nil || change != Created {
		t.Fatalf("scoped put: %v, %v; want created", change, err)
	}
	if e.rawItem(t, "config", "Provider#prod#flux-system#slack") == nil {
		t.Fatal("no item at sk=Provider#prod#flux-system#slack")
	}
	a := testAlert("", "apps", "on-call", "slack")
	if change, err := s.PutObject(ctx, a); err != nil || change != Created {
		t.Fatalf("alert put: %v, %v", change, err)
	}

	objs, err := s.ListObjects(ctx, api.KindProvider, "flux-system")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 2 {
		t.Fatalf("listed %d Providers, want 2", len(objs))
	}
	got := objs[1] // "*" sorts before "prod"
	if objs[0].Cluster != "prod" {
		got = objs[0]
	}
	if got.Cluster != "" || got.Generation != 2 || got.Value.(api.Provider).Spec.Channel != "alerts" {
		t.Errorf("listed %+v, want the unscoped Provider at generation 2 with channel alerts", got)
	}
	if objs, err := s.ListObjects(ctx, "", "apps"); err != nil || len(objs) != 1 || objs[0].Kind != api.KindAlert {
		t.Errorf("ListObjects(all kinds, apps) = %+v, %v; want the Alert", objs, err)
	}

	cfg, _, err := s.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Providers) != 2 || len(cfg.Alerts) != 1 || len(cfg.Receivers) != 0 || len(cfg.Secrets) != 0 {
		t.Fatalf("loaded %d providers, %d alerts, %d receivers, %d secrets", len(cfg.Providers), len(cfg.Alerts), len(cfg.Receivers), len(cfg.Secrets))
	}
	loaded := cfg.Alerts[0]
	if !strings.Contains(loaded.Source.File, "Alert#*#apps#on-call") {
		t.Errorf("source %q does not name the item", loaded.Source)
	}
	loaded.Source = api.Source{}
	if !reflect.DeepEqual(loaded, a) {
		t.Errorf("loaded Alert %+v, want %+v", loaded, a)
	}

	deleted, err := s.DeleteObject(ctx, api.KindProvider, "", "flux-system", "slack")
	if err != nil || !deleted {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	if deleted, err := s.DeleteObject(ctx, api.KindProvider, "", "flux-system", "slack"); err != nil || deleted {
		t.Fatalf("second delete: %v, %v; want false", deleted, err)
	}
	// Re-applying a deleted object creates it again.
	if change, err := s.PutObject(ctx, p); err != nil || change != Created {
		t.Fatalf("put after delete: %v, %v; want created", change, err)
	}
}

func TestPutObjectRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := context.Background()
	secret := api.Secret{
		TypeMeta: api.TypeMeta{APIVersion: "v1", Kind: api.KindSecret},
		Metadata: meta("", "flux-system", "slack-url"),
		Data:     map[string][]byte{"address": []byte("https://hooks.example/SECRET-VALUE")},
	}
	_, err := e.store.PutObject(ctx, secret)
	if err == nil || strings.Contains(err.Error(), "SECRET-VALUE") {
		t.Errorf("storing a Secret: %v; want a refusal that does not quote it", err)
	}
	noNS := testProvider("", "", "x")
	if _, err := e.store.PutObject(ctx, noNS); err == nil {
		t.Error("a Provider without namespace was stored")
	}
	hash := testProvider("", "ns", "a#b")
	if _, err := e.store.PutObject(ctx, hash); err == nil {
		t.Error("a name with # was stored")
	}
	if _, err := e.store.PutObject(ctx, "Provider"); err == nil {
		t.Error("a string was stored")
	}
	if n := e.counter.Total(); n != 0 {
		t.Errorf("refusals made %d requests", n)
	}
}

// TestConcurrentApply: racing applies of different versions of one object
// all succeed or retry; exactly one of them creates it.
func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	var wg sync.WaitGroup
	changes := make([]Change, 6)
	errs := make([]error, 6)
	for i := range changes {
		wg.Go(func() {
			p := testProvider("", "ns", "p")
			p.Spec.Channel = fmt.Sprint("c", i%2)
			changes[i], errs[i] = e.store.PutObject(context.Background(), p)
		})
	}
	wg.Wait()
	created := 0
	for i, c := range changes {
		if errs[i] != nil {
			t.Fatalf("apply %d: %v", i, errs[i])
		}
		if c == Created {
			created++
		}
	}
	if created != 1 {
		t.Errorf("changes %v: want exactly one created", changes)
	}
}

func digestOf(token, name, namespace string) string {
	sum := sha256.Sum256([]byte(token + name + namespace))
	return hex.EncodeToString(sum[:])
}

func TestReceiverDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := context.Background()
	s := e.store
	r := testReceiver("prod", "flux-system", "github")
	ref := Ref{Cluster: "prod", Namespace: "flux-system", Name: "github"}
	d1 := digestOf("token-1", "github", "flux-system")

	if _, found, err := s.ReceiverByDigest(ctx, d1); err != nil || found {
		t.Fatalf("lookup before put: %v, %v", found, err)
	}
	if change, err := s.PutReceiver(ctx, r, d1); err != nil || change != Created {
		t.Fatalf("PutReceiver: %v, %v", change, err)
	}
	hook := e.rawItem(t, "hook#"+d1, "receiver")
	if getS(hook, "cluster") != "prod" || getS(hook, "namespace") != "flux-system" || getS(hook, "name") != "github" {
		t.Fatalf("hook item %v does not point at the Receiver", hook)
	}
	e.counter.Reset()
	got, found, err := s.ReceiverByDigest(ctx, d1)
	if err != nil || !found {
		t.Fatalf("lookup: %v, %v", found, err)
	}
	if got.Source = (api.Source{}); !reflect.DeepEqual(got, r) {
		t.Errorf("found %+v, want %+v", got, r)
	}
	if n := e.counter.Count("GetItem"); n != 2 || e.counter.Total() != 2 {
		t.Errorf("lookup made %v, want two GetItems", e.counter.Counts())
	}

	if change, err := s.PutReceiver(ctx, r, d1); err != nil || change != Unchanged {
		t.Fatalf("same PutReceiver: %v, %v; want unchanged", change, err)
	}
	// A plain apply keeps the digest.
	r.Spec.Events = []string{"push"}
	if change, err := s.PutObject(ctx, r); err != nil || change != Configured {
		t.Fatalf("PutObject: %v, %v", change, err)
	}
	if got, found, _ := s.ReceiverByDigest(ctx, d1); !found || len(got.Spec.Events) != 1 {
		t.Fatalf("after apply, lookup found=%v events=%v", found, got.Spec.Events)
	}

	// A new token moves the hook; the old URL stops working.
	d2 := digestOf("token-2", "github", "flux-system")
	if change, err := s.PutReceiver(ctx, r, d2); err != nil || change != Configured {
		t.Fatalf("PutReceiver with a new digest: %v, %v; want configured", change, err)
	}
	if e.rawItem(t, "hook#"+d1, "receiver") != nil {
		t.Error("the old hook item is still there")
	}
	if _, found, _ := s.ReceiverByDigest(ctx, d1); found {
		t.Error("the old digest still finds the Receiver")
	}
	if _, found, _ := s.ReceiverByDigest(ctx, d2); !found {
		t.Error("the new digest finds nothing")
	}
	d3 := digestOf("token-3", "github", "flux-system")
	if err := s.PutReceiverDigest(ctx, d3, ref); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := s.ReceiverByDigest(ctx, d2); found {
		t.Error("d2 still finds the Receiver")
	}
	if objs, _ := s.ListObjects(ctx, api.KindReceiver, ""); len(objs) != 1 || objs[0].HookDigest != d3 || objs[0].Generation != 2 {
		t.Errorf("listed %+v, want digest d3 at generation 2", objs)
	}

	// The same token, name and namespace in another cluster give the same
	// digest; the second Receiver is refused whole.
	other := testReceiver("staging", "flux-system", "github")
	if _, err := s.PutReceiver(ctx, other, d3); !errors.Is(err, ErrDigestInUse) {
		t.Fatalf("a colliding digest: %v, want ErrDigestInUse", err)
	} else if strings.Contains(err.Error(), d3) {
		t.Errorf("error %q spells out the digest", err)
	}
	if e.rawItem(t, "config", "Receiver#staging#flux-system#github") != nil {
		t.Error("the refused Receiver was stored")
	}
	if err := s.PutReceiverDigest(ctx, d1, Ref{Cluster: "dev", Namespace: "flux-system", Name: "github"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("digest of a missing Receiver: %v, want ErrNotFound", err)
	}

	if deleted, err := s.DeleteObject(ctx, api.KindReceiver, "prod", "flux-system", "github"); err != nil || !deleted {
		t.Fatalf("delete: %v, %v", deleted, err)
	}
	if e.rawItem(t, "hook#"+d3, "receiver") != nil {
		t.Error("deleting the Receiver left its hook item")
	}
	if _, found, _ := s.ReceiverByDigest(ctx, d3); found {
		t.Error("a deleted Receiver is still found")
	}
	if _, found, err := s.ReceiverByDigest(ctx, "../not-hex"); found || err != nil {
		t.Errorf("a malformed digest: %v, %v", found, err)
	}
	// Now the other cluster's Receiver may have the digest.
	if change, err := s.PutReceiver(ctx, other, d3); err != nil || change != Created {
		t.Fatalf("PutReceiver after the delete: %v, %v", change, err)
	}
}

// bigAlert has about 1.5 KB of eventMetadata, so 1,200 of them are well
// beyond the 1 MB a Query page returns.
func bigAlert(i int) api.Alert {
	a := testAlert("", fmt.Sprintf("team-%02d", i%40), fmt.Sprintf("alert-%04d", i), "slack")
	a.Spec.EventMetadata = map[string]string{}
	for k := range 12 {
		a.Spec.EventMetadata[fmt.Sprintf("key-%02d", k)] = strings.Repeat(fmt.Sprintf("%04d-%02d ", i, k), 12)
	}
	return a
}

func TestLoadConfigBeyondOneMegabyte(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Options{})
	ctx := context.Background()
	const n = 1200
	work := make(chan int)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				if _, err := e.store.PutObject(ctx, bigAlert(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if _, err := e.store.PutObject(ctx, testProvider("", "team-00", "slack")); err != nil {
		t.Fatal(err)
	}

	e.counter.Reset()
	cfg, _, err := e.store.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pages := e.counter.Count("Query")
	if len(cfg.Alerts) != n || len(cfg.Providers) != 1 {
		t.Fatalf("loaded %d Alerts and %d Providers in %d pages, want %d and 1", len(cfg.Alerts), len(cfg.Providers), pages, n)
	}
	if pages < 2 {
		t.Fatalf("read in %d Query pages; the data is meant to need more than one", pages)
	}
	var size int
	seen := map[string]bool{}
	for _, a := range cfg.Alerts {
		var i int
		fmt.Sscanf(a.Metadata.Name, "alert-%d", &i)
		a.Source = api.Source{}
		if !reflect.DeepEqual(a, bigAlert(i)) {
			t.Fatalf("Alert %s came back different", a.Metadata.Name)
		}
		seen[a.Metadata.Name] = true
		doc, _ := json.Marshal(a)
		size += len(doc)
	}
	if len(seen) != n {
		t.Fatalf("%d distinct Alerts, want %d", len(seen), n)
	}
	t.Logf("%d Alerts, %d KB of documents, read in %d Query pages", n, size/1024, pages)

	// The cache reads the same pages.
	c := e.cached(e.store, config.CachedOptions{})
	if snap := c.Snapshot(); snap == nil || snap.Alerts.Len() != n {
		t.Fatal("the cache did not load every Alert")
	}
	if st := c.Stats(); st.Pages != int64(pages) || st.Loads != 1 {
		t.Errorf("cache stats %+v, want %d pages in one load", st, pages)
	}
}
