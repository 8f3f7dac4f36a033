package boltdb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/memory"
)

// The replay guard follows the de-duplication windows: a signature's key is
// decided in memory (memory.Replays) and written behind to the file, in
// the same frame of the log as the claim of its event when there is one
// (Deduper.ClaimSigned), so that a restart does not accept again a request
// it has seen. Entries are keyed by expiry and the key's SHA-256, as the
// windows are: new ones append to the bucket's last pages, and the sweep
// reads only the expired ones. A crash loses what the log had not synced
// yet, as for a window: for an event answered 202 the journal write it
// waits for is synced with it or after it.

var _ store.Replays = Deduper{}

// replaySweepEvery is how often the expired keys are deleted from the file.
const replaySweepEvery = time.Minute

// ClaimSigned implements store.Deduper: the signature and the window go to
// the log in one write behind.
func (d Deduper) ClaimSigned(ctx context.Context, key string, sig store.Signature, now time.Time) (replayed, ok bool, reset time.Time, err error) {
	if err := ctx.Err(); err != nil {
		return false, false, time.Time{}, err
	}
	sk := memory.Hash(sig.Key)
	if d.s.replays.Record(sk, sig.Expires, now) {
		return true, false, time.Time{}, nil
	}
	ok, start, end := d.s.windows.ClaimWindow(key, now)
	k := memory.Hash(key)
	if ok {
		d.s.log.writeBehind(seenOp(sk, sig.Expires), windowOp(k, start, end))
	} else {
		d.s.log.writeBehind(seenOp(sk, sig.Expires))
	}
	d.s.sweepDue(now)
	return false, ok, end, nil
}

// Seen implements store.Replays, for signed requests that claim no window
// (the forwarder's polls).
func (d Deduper) Seen(ctx context.Context, sig store.Signature, now time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	sk := memory.Hash(sig.Key)
	if d.s.replays.Record(sk, sig.Expires, now) {
		return true, nil
	}
	d.s.log.writeBehind(seenOp(sk, sig.Expires))
	d.s.sweepDue(now)
	return false, nil
}

// seenOp records the signature whose key hashes to k until expires.
func seenOp(k [sha256.Size]byte, expires time.Time) walOp {
	return walOp{bucket: walReplays, key: expiryKey(expires, k), value: []byte{}}
}

// restoreReplays loads the unexpired signatures of the file.
func (s *Store) restoreReplays(now time.Time) error {
	return s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketReplays).Cursor()
		for ek, _ := c.Seek(expiryKey(now, [sha256.Size]byte{})); ek != nil; ek, _ = c.Next() {
			if len(ek) != 8+sha256.Size {
				continue
			}
			s.replays.Restore([sha256.Size]byte(ek[8:]), getTime(ek))
		}
		return nil
	})
}

// sweepDue runs the sweeps that are due at now: the windows' once per
// interval, the signatures' once per replaySweepEvery.
func (s *Store) sweepDue(now time.Time) {
	if dueSweep(&s.dedupSwept, now, s.opts.DedupInterval) {
		s.sweepDedup(now)
	}
	if dueSweep(&s.replaysSwept, now, replaySweepEvery) {
		s.sweepReplays(now)
	}
}

// sweepReplays deletes the signatures that expired by now, in
// transactions of at most sweepChunk keys; a failure is logged, and the
// next sweep picks them up.
func (s *Store) sweepReplays(now time.Time) {
	total := 0
	// Signatures still in the log would be applied after the sweep.
	if err := s.log.flush(); err != nil {
		s.opts.Logger.Error("sweeping expired request signatures failed", "error", err.Error())
		return
	}
	for {
		n, err := s.sweepExpired(bucketReplays, now)
		total += n
		if err != nil {
			s.opts.Logger.Error("sweeping expired request signatures failed", "swept", total, "error", err.Error())
			return
		}
		if n < sweepChunk {
			return
		}
	}
}

// sweepExpired deletes up to sweepChunk entries of bucket, keyed by expiry
// first, that expired before cutoff, and says how many it deleted.
func (s *Store) sweepExpired(bucket []byte, cutoff time.Time) (int, error) {
	n := 0
	err := s.db.Update(func(tx *bolt.Tx) error {
		n = 0
		b := tx.Bucket(bucket)
		var expired [][]byte
		c := b.Cursor()
		for ek, _ := c.First(); ek != nil && len(expired) < sweepChunk && !getTime(ek).After(cutoff); ek, _ = c.Next() {
			expired = append(expired, bytes.Clone(ek))
		}
		for _, ek := range expired {
			if err := b.Delete(ek); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	return n, err
}
