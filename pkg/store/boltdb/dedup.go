package boltdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
)

// Deduper is the store's store.Deduper, with the windows of the memory one:
// fixed ticks of Options.DedupInterval aligned to the time a key was first
// seen, not sliding. A key unused for an interval after its last window
// starts afresh, aligned to its next claim, and is swept from the file.
//
// A key is kept as its SHA-256 (keys are digests already, of any length)
// with 16 bytes: the start of its first window and the end of its last.
// A second bucket indexes keys by that end, so that a sweep reads only
// the expired keys, not all of them.
type Deduper struct{ s *Store }

var _ store.Deduper = Deduper{}

// Deduper returns the store's Deduper.
func (s *Store) Deduper() Deduper { return Deduper{s: s} }

// sweepChunk bounds the keys one sweep transaction deletes, so that claims
// waiting for the writer are not held up long.
const sweepChunk = 10_000

// Claim implements store.Deduper.
func (d Deduper) Claim(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return false, time.Time{}, err
	}
	k := sha256.Sum256([]byte(key))
	// A refusal writes nothing: most claims of a busy key end here, in a
	// read transaction with nothing to sync.
	var reset time.Time
	err := d.s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketDedup).Get(k[:]); v != nil {
			if end := getTime(v[8:]); now.Before(end) {
				reset = end
			}
		}
		return nil
	})
	if err != nil {
		return false, time.Time{}, fmt.Errorf("reading a de-duplication key: %w", err)
	}
	if !reset.IsZero() {
		return false, reset, nil
	}
	var ok bool
	err = d.s.commits.write(func(tx *bolt.Tx) error {
		// The write may run this more than once: every result is set anew.
		var err error
		ok, reset, err = claim(tx, k, now, d.s.opts.DedupInterval)
		return err
	})
	if err != nil {
		return false, time.Time{}, fmt.Errorf("claiming a de-duplication key: %w", err)
	}
	if dueSweep(&d.s.dedupSwept, now, d.s.opts.DedupInterval) {
		d.s.sweepDedup(now)
	}
	return ok, reset, nil
}

// claim decides a claim of k at now within tx, and records it if it wins.
func claim(tx *bolt.Tx, k [sha256.Size]byte, now time.Time, interval time.Duration) (bool, time.Time, error) {
	keys, ends := tx.Bucket(bucketDedup), tx.Bucket(bucketDedupExpiry)
	start, end := now, now.Add(interval)
	if v := keys.Get(k[:]); v != nil {
		oldStart, oldEnd := getTime(v), getTime(v[8:])
		if now.Before(oldEnd) {
			return false, oldEnd, nil
		}
		if err := ends.Delete(expiryKey(oldEnd, k)); err != nil {
			return false, time.Time{}, err
		}
		// Within an interval of its last window a key keeps its ticks;
		// later it is as good as swept, whether the sweep ran or not.
		if now.Sub(oldEnd) <= interval {
			start = oldStart
			end = oldStart.Add((now.Sub(oldStart)/interval + 1) * interval)
		}
	}
	v := make([]byte, 16)
	putTime(v, start)
	putTime(v[8:], end)
	if err := keys.Put(k[:], v); err != nil {
		return false, time.Time{}, err
	}
	if err := ends.Put(expiryKey(end, k), nil); err != nil {
		return false, time.Time{}, err
	}
	return true, end, nil
}

// expiryKey is the index key of a key whose last window ends at end.
func expiryKey(end time.Time, k [sha256.Size]byte) []byte {
	b := make([]byte, 8+len(k))
	putTime(b, end)
	copy(b[8:], k[:])
	return b
}

// Forget implements store.Deduper.
func (d Deduper) Forget(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k := sha256.Sum256([]byte(key))
	err := d.s.db.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketDedup)
		v := keys.Get(k[:])
		if v == nil {
			return nil
		}
		if err := tx.Bucket(bucketDedupExpiry).Delete(expiryKey(getTime(v[8:]), k)); err != nil {
			return err
		}
		return keys.Delete(k[:])
	})
	if err != nil {
		return fmt.Errorf("forgetting a de-duplication key: %w", err)
	}
	return nil
}

// sweepDedup deletes the keys whose last window ended more than an
// interval before now, in transactions of at most sweepChunk keys. A
// failure is logged: the claim that ran it has succeeded, and the next
// sweep picks the keys up.
func (s *Store) sweepDedup(now time.Time) {
	began := time.Now()
	cutoff := now.Add(-s.opts.DedupInterval)
	total := 0
	for {
		n, err := s.sweepDedupChunk(cutoff)
		total += n
		if err != nil {
			s.opts.Logger.Error("sweeping expired de-duplication keys failed", "swept", total, "error", err.Error())
			return
		}
		if n < sweepChunk {
			break
		}
	}
	if total > 0 {
		s.opts.Logger.Debug("swept expired de-duplication keys", "swept", total, "took", time.Since(began))
	}
}

// sweepDedupChunk deletes up to sweepChunk keys whose window ended before
// cutoff, and says how many it deleted.
func (s *Store) sweepDedupChunk(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		keys, ends := tx.Bucket(bucketDedup), tx.Bucket(bucketDedupExpiry)
		var expired [][]byte
		c := ends.Cursor()
		for ek, _ := c.First(); ek != nil && len(expired) < sweepChunk && getTime(ek).Before(cutoff); ek, _ = c.Next() {
			expired = append(expired, bytes.Clone(ek))
		}
		for _, ek := range expired {
			if err := ends.Delete(ek); err != nil {
				return err
			}
			// The key itself goes only if this entry is its current one.
			if v := keys.Get(ek[8:]); v != nil && bytes.Equal(v[8:], ek[:8]) {
				if err := keys.Delete(ek[8:]); err != nil {
					return err
				}
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}
