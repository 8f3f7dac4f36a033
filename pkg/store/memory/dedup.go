// Package memory holds in-process state for local mode.
package memory

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Deduper allows one event per key per interval, like the memory store Flux's
// event server uses: windows are fixed ticks aligned to the time a key was
// first seen, not sliding, and a key unused for an interval after its last
// window is forgotten.
//
// It is also local mode's replay guard (store.Replays), which ClaimSigned
// consults before the window.
type Deduper struct {
	interval time.Duration
	shards   [64]shard
	replays  *Replays
}

type shard struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]entry
	swept   time.Time
}

// entry is kept small, with the key as 32 raw bytes: at thousands of events
// a second, a window holds millions of keys.
type entry struct {
	start int64 // unix nanoseconds when the key was first seen
	taken int64 // the last window index in which the key was claimed
}

// NewDeduper returns a Deduper with the given interval.
func NewDeduper(interval time.Duration) *Deduper {
	d := &Deduper{interval: interval, replays: NewReplays()}
	for i := range d.shards {
		d.shards[i].entries = make(map[[sha256.Size]byte]entry)
	}
	return d
}

// Claim implements store.Deduper.
func (d *Deduper) Claim(_ context.Context, key string, now time.Time) (bool, time.Time, error) {
	ok, _, end := d.ClaimWindow(key, now)
	return ok, end, nil
}

// ClaimSigned implements store.Deduper.
func (d *Deduper) ClaimSigned(ctx context.Context, key string, sig store.Signature, now time.Time) (replayed, ok bool, reset time.Time, err error) {
	if d.replays.Record(Hash(sig.Key), sig.Expires, now) {
		return true, false, time.Time{}, nil
	}
	ok, reset, err = d.Claim(ctx, key, now)
	return false, ok, reset, err
}

// Seen implements store.Replays, for the signed requests that claim no
// window (the forwarder's polls).
func (d *Deduper) Seen(ctx context.Context, sig store.Signature, now time.Time) (bool, error) {
	return d.replays.Seen(ctx, sig, now)
}

// ClaimWindow is Claim, returning the key's window as well: the start of
// its first window and the end of the current one, which a store that
// keeps the windows on disk writes down (and gives back to Restore).
func (d *Deduper) ClaimWindow(key string, now time.Time) (ok bool, start, end time.Time) {
	k, s := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now, d.interval)
	e, seen := s.entries[k]
	if !seen {
		s.entries[k] = entry{start: now.UnixNano()}
		return true, now, now.Add(d.interval)
	}
	start = time.Unix(0, e.start)
	window := int64(now.Sub(start) / d.interval)
	end = start.Add(time.Duration(window+1) * d.interval)
	if window <= e.taken {
		return false, start, end
	}
	e.taken = window
	s.entries[k] = e
	return true, start, end
}

// Window returns the window of key, if it has one: the start of its
// first window and the end of the last it was claimed in.
func (d *Deduper) Window(key string) (start, end time.Time, ok bool) {
	k, s := d.locate(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[k]
	if !ok {
		return time.Time{}, time.Time{}, false
	}
	start = time.Unix(0, e.start)
	return start, start.Add(time.Duration(e.taken+1) * d.interval), true
}

// Hash is the fixed-size form in which a key is kept, and Restore takes it.
func Hash(key string) [sha256.Size]byte { return sha256.Sum256([]byte(key)) }

// Restore sets the window of the key whose Hash is k, as ClaimWindow
// reported it: at start-up, from a store that keeps windows on disk.
func (d *Deduper) Restore(k [sha256.Size]byte, start, end time.Time) {
	s := &d.shards[int(k[0])%len(d.shards)]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries[k] = entry{start: start.UnixNano(), taken: int64(end.Sub(start)/d.interval) - 1}
}

// Forget implements store.Deduper.
func (d *Deduper) Forget(_ context.Context, key string) error {
	k, s := d.locate(key)
	s.mu.Lock()
	delete(s.entries, k)
	s.mu.Unlock()
	return nil
}

// locate hashes key to its fixed-size form and its shard. Keys are already
// SHA-256 hex digests, so hashing again costs little and spreads them evenly.
func (d *Deduper) locate(key string) ([sha256.Size]byte, *shard) {
	k := Hash(key)
	return k, &d.shards[int(k[0])%len(d.shards)]
}

// sweep drops, at most once per interval, the keys whose last window ended
// more than an interval ago, bounding memory to the keys of two intervals.
func (s *shard) sweep(now time.Time, interval time.Duration) {
	if now.Sub(s.swept) < interval {
		return
	}
	s.swept = now
	for k, e := range s.entries {
		end := time.Unix(0, e.start).Add(time.Duration(e.taken+1) * interval)
		if now.Sub(end) > interval {
			delete(s.entries, k)
		}
	}
}
