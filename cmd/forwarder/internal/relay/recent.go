package relay

import (
	"sync"
	"time"
)

// Recent remembers the de-duplication keys of events seen in the last
// Window, so that an event that arrives both as a controller's POST and as
// a Kubernetes Event is forwarded once. The two copies of one event arrive
// within milliseconds of each other; the window only has to cover a slow
// watch.
type Recent struct {
	Window time.Duration
	// Max bounds the keys kept; beyond it the oldest half is forgotten.
	Max int

	mu   sync.Mutex
	seen map[string]time.Time
}

// FirstSighting records key at now and reports whether it was not seen
// within the window.
func (r *Recent) FirstSighting(key string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]time.Time{}
	}
	if at, ok := r.seen[key]; ok && now.Sub(at) < r.Window {
		return false
	}
	if len(r.seen) >= r.Max {
		r.sweepLocked(now)
	}
	r.seen[key] = now
	return true
}

// Forget removes key recorded at at, so that an event that could not be
// buffered is taken when it comes again (Flux's recorder retries), instead
// of being answered as already forwarded. A later sighting is kept.
func (r *Recent) Forget(key string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seen, ok := r.seen[key]; ok && seen.Equal(at) {
		delete(r.seen, key)
	}
}

func (r *Recent) sweepLocked(now time.Time) {
	for k, at := range r.seen {
		if now.Sub(at) >= r.Window {
			delete(r.seen, k)
		}
	}
	// Still full of fresh keys: forget arbitrary ones rather than grow.
	for k := range r.seen {
		if len(r.seen) < r.Max/2 {
			break
		}
		delete(r.seen, k)
	}
}
