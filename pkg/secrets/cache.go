package secrets

import (
	"errors"
	"sync"
	"time"
)

// cache holds values until their expiry and makes concurrent misses of the
// same key share one load. Errors are not cached. Expired entries are swept
// once per sweep interval, so names that are looked up once (a forwarder
// sending an unknown cluster name) do not pile up.
type cache struct {
	mu        sync.Mutex
	entries   map[string]entry
	inflight  map[string]*load
	lastSweep time.Time
}

type entry struct {
	v       value
	expires time.Time
}

type load struct {
	done chan struct{}
	v    value
	err  error
}

// errPanicked is what waiters get when the load they waited for panicked.
var errPanicked = errors.New("secret read failed")

// sweepInterval is how often expired entries are dropped at most.
const sweepInterval = time.Minute

func newCache() *cache {
	return &cache{entries: map[string]entry{}, inflight: map[string]*load{}}
}

// get returns the value of key at now, calling fill on a miss. fill returns
// the value and when it expires. Callers that miss while a fill of the same
// key runs wait for it and share its outcome.
func (c *cache) get(key string, now time.Time, fill func() (value, time.Time, error)) (value, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.v, nil
	}
	if l, ok := c.inflight[key]; ok {
		c.mu.Unlock()
		<-l.done
		return l.v, l.err
	}
	l := &load{done: make(chan struct{})}
	c.inflight[key] = l
	c.mu.Unlock()

	var expires time.Time
	// The deferred part runs even if fill panics, so waiters are released.
	defer func() {
		c.mu.Lock()
		delete(c.inflight, key)
		if l.err == nil && !expires.IsZero() {
			c.entries[key] = entry{v: l.v, expires: expires}
		}
		c.sweep(now)
		c.mu.Unlock()
		close(l.done)
	}()
	l.err = errPanicked
	l.v, expires, l.err = fill()
	return l.v, l.err
}

// store sets key's value, for writes that know the new value.
func (c *cache) store(key string, v value, expires time.Time) {
	c.mu.Lock()
	c.entries[key] = entry{v: v, expires: expires}
	c.mu.Unlock()
}

// sweep drops expired entries, at most once per sweepInterval. c.mu is held.
func (c *cache) sweep(now time.Time) {
	if now.Sub(c.lastSweep) < sweepInterval {
		return
	}
	c.lastSweep = now
	for k, e := range c.entries {
		if !now.Before(e.expires) {
			delete(c.entries, k)
		}
	}
}
