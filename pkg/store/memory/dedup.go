// Package memory holds in-process state for local mode.
package memory

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Deduper allows one event per key per interval, like the memory store Flux's
// event server uses: windows are fixed ticks aligned to the time a key was
// first seen, not sliding, and a key unused for an interval after its last
// window is forgotten.
type Deduper struct {
	interval time.Duration
	seed     maphash.Seed
	shards   [64]shard
}

type shard struct {
	mu      sync.Mutex
	entries map[string]entry
	swept   time.Time
}

type entry struct {
	start time.Time // when the key was first seen
	taken int64     // the last window index in which the key was claimed
}

// NewDeduper returns a Deduper with the given interval.
func NewDeduper(interval time.Duration) *Deduper {
	d := &Deduper{interval: interval, seed: maphash.MakeSeed()}
	for i := range d.shards {
		d.shards[i].entries = make(map[string]entry)
	}
	return d
}

// Claim implements store.Deduper.
func (d *Deduper) Claim(_ context.Context, key string, now time.Time) (bool, time.Time, error) {
	s := &d.shards[maphash.String(d.seed, key)%uint64(len(d.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweep(now, d.interval)
	e, ok := s.entries[key]
	if !ok {
		s.entries[key] = entry{start: now}
		return true, now.Add(d.interval), nil
	}
	window := int64(now.Sub(e.start) / d.interval)
	reset := e.start.Add(time.Duration(window+1) * d.interval)
	if window <= e.taken {
		return false, reset, nil
	}
	e.taken = window
	s.entries[key] = e
	return true, reset, nil
}

// Forget implements store.Deduper.
func (d *Deduper) Forget(_ context.Context, key string) error {
	s := &d.shards[maphash.String(d.seed, key)%uint64(len(d.shards))]
	s.mu.Lock()
	delete(s.entries, key)
	s.mu.Unlock()
	return nil
}

// sweep drops, at most once per interval, the keys whose last window ended
// more than an interval ago, bounding memory to the keys of two intervals.
func (s *shard) sweep(now time.Time, interval time.Duration) {
	if now.Sub(s.swept) < interval {
		return
	}
	s.swept = now
	for k, e := range s.entries {
		end := e.start.Add(time.Duration(e.taken+1) * interval)
		if now.Sub(end) > interval {
			delete(s.entries, k)
		}
	}
}
