package dynamo

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store"
)

// noSnapshotRetry is how soon a load is tried again while no config has
// loaded yet: without one every event would find no Alert.
const noSnapshotRetry = time.Second

// CachedConfig serves the config from memory to a warm Lambda and reads it
// again at most once per TTL, on the first Snapshot call after the TTL ran
// out: Lambda freezes an idle environment, so a background refresher would
// stall mid-request. Within the TTL a Snapshot call makes no request.
//
// A failed refresh keeps the last good snapshot, is logged and passed to
// Options.OnConfigError, and is tried again after another TTL (after a
// second while no snapshot has loaded yet). Only one caller refreshes at a
// time; concurrent callers keep being served the previous snapshot.
type CachedConfig struct {
	store     *Store
	secrets   notify.SecretLookup
	notifiers store.Notifiers
	ttl       time.Duration

	mu  sync.Mutex // held while loading
	cur atomic.Pointer[cacheEntry]

	loads, failures, pages atomic.Int64
}

type cacheEntry struct {
	snap *store.Snapshot
	// next is when the config may be read again.
	next time.Time
}

var _ store.ConfigSource = (*CachedConfig)(nil)

// NewCachedConfig returns a CachedConfig of s whose Providers take their
// notifiers from notifiers, which outlive snapshots, and their secrets from
// secrets (Secrets Manager), lazily as Lambda wants (store.NewSnapshot with
// eager false). ttl <= 0 takes the store's ConfigTTL. It makes no request:
// the first Snapshot or Refresh call loads the config.
func NewCachedConfig(s *Store, secrets notify.SecretLookup, notifiers store.Notifiers, ttl time.Duration) *CachedConfig {
	if ttl <= 0 {
		ttl = s.opts.ConfigTTL
	}
	return &CachedConfig{store: s, secrets: secrets, notifiers: notifiers, ttl: ttl}
}

// Snapshot implements store.ConfigSource. It returns nil while no config has
// ever loaded.
func (c *CachedConfig) Snapshot() *store.Snapshot {
	now := c.store.now()
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
	ctx, cancel := context.WithTimeout(context.Background(), c.store.opts.ConfigReadTimeout)
	defer cancel()
	_ = c.refreshLocked(ctx)
	return c.cur.Load().snap
}

// Refresh reads the config now, whatever its age. A Lambda can call it at
// start-up to fail fast or log the first load. On failure the last good
// snapshot stays.
func (c *CachedConfig) Refresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refreshLocked(ctx)
}

func (c *CachedConfig) refreshLocked(ctx context.Context) error {
	cfg, pages, err := c.store.loadConfig(ctx)
	c.pages.Add(int64(pages))
	var snap *store.Snapshot
	if err == nil {
		snap, err = store.NewSnapshot(cfg, c.notifiers, store.SnapshotOptions{Secrets: c.secrets})
	}
	now := c.store.now()
	prev := c.cur.Load()
	if err != nil {
		c.failures.Add(1)
		next := now.Add(c.ttl)
		var last *store.Snapshot
		if prev != nil {
			last = prev.snap
		}
		if last == nil {
			next = now.Add(min(c.ttl, noSnapshotRetry))
		}
		c.cur.Store(&cacheEntry{snap: last, next: next})
		c.store.opts.Logger.Error("config refresh failed, keeping the last good config",
			"table", c.store.table, "has_config", last != nil, "error", err.Error())
		if c.store.opts.OnConfigError != nil {
			c.store.opts.OnConfigError(err)
		}
		return err
	}
	c.loads.Add(1)
	c.cur.Store(&cacheEntry{snap: snap, next: now.Add(c.ttl)})
	snap.RetainNotifiers()
	c.store.opts.Logger.Debug("config loaded", "table", c.store.table, "pages", pages,
		"providers", snap.Counts[api.KindProvider], "alerts", snap.Counts[api.KindAlert],
		"receivers", snap.Counts[api.KindReceiver])
	return nil
}

// CacheStats counts a CachedConfig's work since it was made.
type CacheStats struct {
	// Loads is the number of successful config reads, Failures the failed
	// ones.
	Loads, Failures int64
	// QueryPages is the number of Query pages read, each one request.
	QueryPages int64
}

// Stats returns the counts so far.
func (c *CachedConfig) Stats() CacheStats {
	return CacheStats{Loads: c.loads.Load(), Failures: c.failures.Load(), QueryPages: c.pages.Load()}
}
