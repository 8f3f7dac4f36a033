package receiver

import "sync"

// cacheLimit bounds each of the Verifier's caches. Their keys come from
// config (issuer URLs, CEL expressions), not from callers, so a process
// rarely holds more than a few; the bound keeps a config that churns, or a
// long-lived `herald serve` that reloads it for months, from growing them
// without end.
const cacheLimit = 128

// boundedCache maps strings to values and forgets the oldest entry once it
// holds cacheLimit. Its zero value is ready to use and safe for concurrent
// use.
type boundedCache[V any] struct {
	mu      sync.Mutex
	entries map[string]V
	order   []string // keys, oldest first
}

func (c *boundedCache[V]) get(key string) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.entries[key]
	return v, ok
}

// put stores v under key, replacing what was there.
func (c *boundedCache[V]) put(key string, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[string]V)
	}
	if _, ok := c.entries[key]; !ok {
		if len(c.order) >= cacheLimit {
			delete(c.entries, c.order[0])
			c.order = c.order[1:]
		}
		c.order = append(c.order, key)
	}
	c.entries[key] = v
}

func (c *boundedCache[V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
