package boltdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/memory"
)

// Deduper is the store's store.Deduper: the memory Deduper's windows
// (fixed ticks of Options.DedupInterval aligned to the time a key was
// first seen), decided in memory and written behind to the file, from
// which Open restores them.
//
// A claim does not wait for its write: the log keeps writes in order, so
// the journal entry ingest writes next for the same event, which it does
// wait for, is synced with the claim or after it. An event answered
// 202 therefore has its claim on disk; only the claim of an event that
// matched nothing can be lost to a crash, and a duplicate of it matches
// nothing again.
//
// In the file, a window is one entry keyed by its end and the key's
// SHA-256 (keys are digests already, of any length), holding its start:
// the keys of new windows sort after all others, so that applying the log appends
// to the last pages of the bucket instead of rewriting a page per event
// across a tree of millions of keys. A key's older windows stay until the
// sweep, which deletes the entries that ended an interval ago, reading
// only those; Open restores each key's latest window.
type Deduper struct{ s *Store }

var _ store.Deduper = Deduper{}

// Deduper returns the store's Deduper.
func (s *Store) Deduper() Deduper { return Deduper{s: s} }

// sweepChunk bounds the keys one sweep transaction deletes, so that the
// log's applier, which waits for it, is not held up long.
const sweepChunk = 10_000

// Claim implements store.Deduper.
func (d Deduper) Claim(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	if err := ctx.Err(); err != nil {
		return false, time.Time{}, err
	}
	ok, start, end := d.s.windows.ClaimWindow(key, now)
	if !ok {
		return false, end, nil
	}
	k := memory.Hash(key)
	d.s.log.writeBehind(windowOp(k, start, end))
	d.s.sweepDue(now)
	return true, end, nil
}

// windowOp records the window of k.
func windowOp(k [sha256.Size]byte, start, end time.Time) walOp {
	v := make([]byte, 8)
	putTime(v, start)
	return walOp{bucket: walDedup, key: expiryKey(end, k), value: v}
}

// restoreWindows loads the windows of the file that are still of use at
// now into the memory Deduper; entries come in order of their end, so a
// key's latest window is the one that stays.
func (s *Store) restoreWindows(now time.Time) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketDedup).Cursor()
		for ek, v := c.Seek(expiryKey(now.Add(-s.opts.DedupInterval), [sha256.Size]byte{})); ek != nil; ek, v = c.Next() {
			if len(ek) != 8+sha256.Size || len(v) != 8 {
				continue
			}
			s.windows.Restore([sha256.Size]byte(ek[8:]), getTime(v), getTime(ek))
		}
		return nil
	})
}

// expiryKey is the file's key of k's window that ends at end.
func expiryKey(end time.Time, k [sha256.Size]byte) []byte {
	b := make([]byte, 8+len(k))
	putTime(b, end)
	copy(b[8:], k[:])
	return b
}

// Forget implements store.Deduper. Its write goes through the log too,
// so that it lands after the claim it undoes; an older window of the key
// that may remain in the file only allows the claims it would.
func (d Deduper) Forget(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, end, ok := d.s.windows.Window(key)
	if err := d.s.windows.Forget(ctx, key); err != nil || !ok {
		return err
	}
	ek := expiryKey(end, memory.Hash(key))
	if err := d.s.log.write(walOp{bucket: walDedup, key: ek}); err != nil {
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
	// Windows still in the log would be applied after the sweep, and
	// stay until the next one.
	if err := s.log.flush(); err != nil {
		s.opts.Logger.Error("sweeping expired de-duplication keys failed", "error", err.Error())
		return
	}
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

// sweepDedupChunk deletes up to sweepChunk windows that ended before
// cutoff, and says how many it deleted.
func (s *Store) sweepDedupChunk(cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		windows := tx.Bucket(bucketDedup)
		var expired [][]byte
		c := windows.Cursor()
		for ek, _ := c.First(); ek != nil && len(expired) < sweepChunk && getTime(ek).Before(cutoff); ek, _ = c.Next() {
			expired = append(expired, bytes.Clone(ek))
		}
		for _, ek := range expired {
			if err := windows.Delete(ek); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}
