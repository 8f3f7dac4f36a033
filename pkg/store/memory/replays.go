package memory

import (
	"context"
	"crypto/sha256"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Replays is local mode's replay guard (store.Replays): the keys of signed
// requests, as 32-byte hashes, each with the time it expires. A key is
// kept at most MaxClockSkew twice over (a request may be dated that far
// ahead), so memory is bounded by the signed requests of ten minutes.
type Replays struct {
	shards [64]replayShard
}

type replayShard struct {
	mu      sync.Mutex
	expires map[[sha256.Size]byte]int64 // unix nanoseconds
	swept   int64
}

// replaySweepEvery is how often a shard drops its expired keys.
const replaySweepEvery = time.Minute

var _ store.Replays = (*Replays)(nil)

// NewReplays returns an empty replay guard.
func NewReplays() *Replays {
	r := &Replays{}
	for i := range r.shards {
		r.shards[i].expires = make(map[[sha256.Size]byte]int64)
	}
	return r
}

// Seen implements store.Replays.
func (r *Replays) Seen(_ context.Context, sig store.Signature, now time.Time) (bool, error) {
	return r.Record(Hash(sig.Key), sig.Expires, now), nil
}

// Record records the key whose Hash is k until expires, unless it is
// recorded and unexpired at now: then it changes nothing and reports a
// replay. A store that keeps keys on disk writes down what it records.
func (r *Replays) Record(k [sha256.Size]byte, expires, now time.Time) (replayed bool) {
	s := &r.shards[int(k[0])%len(r.shards)]
	s.mu.Lock()
	defer s.mu.Unlock()
	n := now.UnixNano()
	if n-s.swept >= int64(replaySweepEvery) {
		s.swept = n
		for key, exp := range s.expires {
			if exp <= n {
				delete(s.expires, key)
			}
		}
	}
	if exp, ok := s.expires[k]; ok && exp > n {
		return true
	}
	s.expires[k] = expires.UnixNano()
	return false
}

// Restore records k until expires: at start-up, from a store that keeps
// keys on disk.
func (r *Replays) Restore(k [sha256.Size]byte, expires time.Time) {
	s := &r.shards[int(k[0])%len(r.shards)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if exp, ok := s.expires[k]; !ok || exp < expires.UnixNano() {
		s.expires[k] = expires.UnixNano()
	}
}
