package config

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
)

// Defaults of CachedOptions.
const (
	DefaultTTL         = 30 * time.Second
	DefaultReadTimeout = 10 * time.Second
)

// noSnapshotRetry is how soon a load is tried again while no config has
// loaded yet: without one every event would find no Alert.
const noSnapshotRetry = time.Second

// Loader reads the whole config; pages counts the requests it took.
type Loader interface {
	LoadConfig(ctx context.Context) (cfg *api.Config, pages int, err error)
}

// CachedOptions tune a Cached. Zero values take the defaults.
type CachedOptions struct {
	// TTL is how long a snapshot is served before the config is read
	// again (HERALD_CONFIG_TTL). Default 30s.
	TTL time.Duration
	// ReadTimeout bounds one load, which has no caller context.
	// Default 10s.
	ReadTimeout time.Duration
	// Secrets resolves the Providers' secretRefs (Secrets Manager in AWS).
	Secrets notify.SecretLookup
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
	// Logger reports failed loads. Default slog.Default().
	Logger *slog.Logger
	// OnError, when set, is also called with every failed load, for
	// metrics.
	OnError func(error)
}

// Cached serves the config from memory to a warm Lambda and reads it again
// at most once per TTL, on the first Snapshot call after the TTL ran out:
// Lambda freezes an idle environment, so a background refresher would
// stall mid-request. Within the TTL a Snapshot call makes no request.
//
// A failed refresh keeps the last good snapshot, is logged and passed to
// OnError, and is tried again after another TTL (after a second while no
// snapshot has loaded yet). Only one caller refreshes at a time; concurrent
// callers keep being served the previous snapshot.
type Cached struct {
	loader    Loader
	notifiers Notifiers
	opts      CachedOptions

	mu  sync.Mutex // held while loading
	cur atomic.Pointer[cacheEntry]

	loads, failures, pages atomic.Int64
}

type cacheEntry struct {
	snap *Snapshot
	// next is when the config may be read again.
	next time.Time
}

var _ Source = (*Cached)(nil)

// NewCached returns a Cached over loader whose Providers take their
// notifiers from notifiers, which outlive snapshots, and build them lazily
// as Lambda wants (NewSnapshot without Eager). It makes no request: the
// first Snapshot or Refresh call loads the config.
func NewCached(loader Loader, notifiers Notifiers, opts CachedOptions) *Cached {
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Cached{loader: loader, notifiers: notifiers, opts: opts}
}

// Snapshot implements Source. It returns nil while no config has ever
// loaded.
func (c *Cached) Snapshot() *Snapshot {
	now := c.opts.Now()
	e := c.cur.Load()
	if e != nil && now.Before(e.next) {
		return e.snap
	}
	if !c.mu.TryLock() {
		if e != nil && e.snap != nil {
			return e.snap // another caller is refreshing
		}
		c.mu.Lock()
	}
	defer c.mu.Unlock()
	if e = c.cur.Load(); e != nil && now.Before(e.next) {
		return e.snap // refreshed while this caller waited
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ReadTimeout)
	defer cancel()
	_ = c.refreshLocked(ctx)
	return c.cur.Load().snap
}

// Refresh reads the config now, whatever its age. A Lambda can call it at
// start-up to fail fast or log the first load. On failure the last good
// snapshot stays.
func (c *Cached) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *Cached) refreshLocked(ctx context.Context) error {
	cfg, pages, err := c.loader.LoadConfig(ctx)
	c.pages.Add(int64(pages))
	var snap *Snapshot
	if err == nil {
		snap, err = NewSnapshot(cfg, c.notifiers, SnapshotOptions{Secrets: c.opts.Secrets})
	}
	now := c.opts.Now()
	prev := c.cur.Load()
	if err != nil {
		c.failures.Add(1)
		next := now.Add(c.opts.TTL)
		var last *Snapshot
		if prev != nil {
			last = prev.snap
		}
		if last == nil {
			next = now.Add(min(c.opts.TTL, noSnapshotRetry))
		}
		c.cur.Store(&cacheEntry{snap: last, next: next})
		c.opts.Logger.Error("config refresh failed, keeping the last good config",
			"has_config", last != nil, "error", err.Error())
		if c.opts.OnError != nil {
			c.opts.OnError(err)
		}
		return err
	}
	c.loads.Add(1)
	c.cur.Store(&cacheEntry{snap: snap, next: now.Add(c.opts.TTL)})
	snap.RetainNotifiers()
	c.opts.Logger.Debug("config loaded", "pages", pages,
		"providers", snap.Counts[api.KindProvider], "alerts", snap.Counts[api.KindAlert],
		"receivers", snap.Counts[api.KindReceiver])
	return nil
}

// CacheStats counts a Cached's work since it was made.
type CacheStats struct {
	// Loads is the number of successful config reads, Failures the failed
	// ones.
	Loads, Failures int64
	// Pages is the number of pages (requests) the loads read.
	Pages int64
}

// Stats returns the counts so far.
func (c *Cached) Stats() CacheStats {
	return CacheStats{Loads: c.loads.Load(), Failures: c.failures.Load(), Pages: c.pages.Load()}
}
