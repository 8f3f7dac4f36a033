package notifiers_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
)

// conn is a notifier holding a connection: it counts its closes.
type conn struct {
	cfg    notify.Config
	closed atomic.Int32
}

func (*conn) Notify(context.Context, event.Event) (bool, error) { return false, nil }
func (c *conn) Close() error                                    { c.closed.Add(1); return nil }

// factory builds conns, failing while fail is set, and counts its builds.
type factory struct {
	builds atomic.Int32
	fail   atomic.Bool
}

func (f *factory) build(cfg notify.Config) (notify.Notifier, error) {
	if f.fail.Load() {
		return nil, errors.New("bad config")
	}
	f.builds.Add(1)
	return &conn{cfg: cfg}, nil
}

func acquire(t *testing.T, c *notifiers.Cache, cfg notify.Config) (*conn, func()) {
	t.Helper()
	n, release, err := c.Acquire(cfg, cfg.Digest())
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return n.(*conn), release
}

func TestReusedWhileUnchanged(t *testing.T) {
	f := &factory{}
	c := notifiers.New(f.build)
	cfg := notify.Config{UID: "u1", Type: "nats", Address: "nats://a", Token: "s1"}
	a, release := acquire(t, c, cfg)
	release()
	b, release := acquire(t, c, cfg)
	release()
	if a != b || f.builds.Load() != 1 || a.closed.Load() != 0 {
		t.Fatalf("same config: %d builds, reused %v, closed %d", f.builds.Load(), a == b, a.closed.Load())
	}
}

// A changed secret builds a new notifier; the old one is closed once the
// attempt still using it ends, not before.
func TestReplacedWhenChanged(t *testing.T) {
	f := &factory{}
	c := notifiers.New(f.build)
	old, releaseOld := acquire(t, c, notify.Config{UID: "u1", Token: "s1"})
	cur, release := acquire(t, c, notify.Config{UID: "u1", Token: "s2"})
	release()
	if old == cur || f.builds.Load() != 2 {
		t.Fatalf("a changed token did not rebuild: %d builds", f.builds.Load())
	}
	if old.closed.Load() != 0 {
		t.Fatal("closed while an attempt used it")
	}
	releaseOld()
	releaseOld() // a second release changes nothing
	if old.closed.Load() != 1 || cur.closed.Load() != 0 {
		t.Fatalf("closes: old %d, current %d; want 1 and 0", old.closed.Load(), cur.closed.Load())
	}
}

func TestBuildErrorsAreNotKept(t *testing.T) {
	f := &factory{}
	c := notifiers.New(f.build)
	cfg := notify.Config{UID: "u1"}
	f.fail.Store(true)
	if _, _, err := c.Acquire(cfg, cfg.Digest()); err == nil {
		t.Fatal("no error")
	}
	f.fail.Store(false)
	_, release := acquire(t, c, cfg)
	release()
}

func TestRetainClosesRemoved(t *testing.T) {
	f := &factory{}
	c := notifiers.New(f.build)
	kept, r1 := acquire(t, c, notify.Config{UID: "kept"})
	gone, r2 := acquire(t, c, notify.Config{UID: "gone"})
	r1()
	r2()
	c.Retain(map[string]bool{"kept": true})
	if gone.closed.Load() != 1 || kept.closed.Load() != 0 {
		t.Fatalf("closes: removed %d, kept %d; want 1 and 0", gone.closed.Load(), kept.closed.Load())
	}
	c.Close()
	if kept.closed.Load() != 1 || gone.closed.Load() != 1 {
		t.Fatalf("after Close: kept closed %d, removed closed %d; want each once", kept.closed.Load(), gone.closed.Load())
	}
}
