// Package notifiers owns the notifiers built for Providers. Config snapshots
// come and go (a warm Lambda reloads every 30 s); a notifier that holds a
// connection (NATS, Event Hubs) must outlive them while its Provider is
// unchanged, and be closed once it is replaced or its Provider removed.
package notifiers

import (
	"crypto/sha256"
	"io"
	"sync"

	"github.com/heraldhq/herald/pkg/notify"
)

// Cache holds one built notifier per Provider UID, with the digest of the
// resolved config it was built from. It is safe for concurrent use; build
// one per process and hand it to every config snapshot.
type Cache struct {
	build notify.Factory

	mu   sync.Mutex
	live map[string]*entry // by Provider UID
}

type entry struct {
	digest   [sha256.Size]byte
	notifier notify.Notifier
	// refs counts the attempts using notifier; a retired entry is closed
	// when the last of them ends, so that no send is cut off mid-way.
	refs    int
	retired bool
}

// New returns an empty Cache that builds notifiers with build.
func New(build notify.Factory) *Cache {
	return &Cache{build: build, live: map[string]*entry{}}
}

// Acquire returns the notifier of cfg's Provider: the one built before when
// cfg is unchanged (same digest, cfg.Digest()), else a new one, which
// replaces it. The digest is the caller's to compute, once per resolved
// config: hashing the secrets at every delivery costs more than the rest of
// Acquire. The caller must call release once it is done with the notifier.
// A build error is returned and not kept: the next call builds again.
func (c *Cache) Acquire(cfg notify.Config, digest [sha256.Size]byte) (n notify.Notifier, release func(), err error) {
	c.mu.Lock()
	e := c.live[cfg.UID]
	if e != nil && e.digest == digest {
		e.refs++
		c.mu.Unlock()
		return e.notifier, c.releaser(e), nil
	}
	// Built under the lock, so that concurrent first deliveries build one
	// notifier rather than one each. Factories do not dial.
	n, err = c.build(cfg)
	if err != nil {
		c.mu.Unlock()
		return nil, nil, err
	}
	var stale *entry
	if e != nil {
		stale = retire(e)
	}
	e = &entry{digest: digest, notifier: n, refs: 1}
	c.live[cfg.UID] = e
	c.mu.Unlock()
	closeEntry(stale)
	return n, c.releaser(e), nil
}

// Retain closes the notifiers of Providers whose UID is not in uids: they
// left the config.
func (c *Cache) Retain(uids map[string]bool) {
	var stale []*entry
	c.mu.Lock()
	for uid, e := range c.live {
		if !uids[uid] {
			delete(c.live, uid)
			stale = append(stale, retire(e))
		}
	}
	c.mu.Unlock()
	for _, e := range stale {
		closeEntry(e)
	}
}

// Close closes every notifier, each once its attempts in flight end.
func (c *Cache) Close() { c.Retain(nil) }

func (c *Cache) releaser(e *entry) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			e.refs--
			done := e.retired && e.refs == 0
			c.mu.Unlock()
			if done {
				closeEntry(e)
			}
		})
	}
}

// retire marks e replaced and returns it when it can be closed now, nil
// when attempts still use it. c.mu is held.
func retire(e *entry) *entry {
	e.retired = true
	if e.refs > 0 {
		return nil
	}
	return e
}

// closeEntry closes e's notifier if it holds connections. A failed close
// has nothing left to retry, so its error is dropped.
func closeEntry(e *entry) {
	if e == nil {
		return
	}
	if c, ok := e.notifier.(io.Closer); ok {
		_ = c.Close()
	}
}
