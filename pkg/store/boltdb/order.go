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

// StatusOrder is the store's store.StatusOrder. A key is kept as its
// SHA-256 with 16 bytes: its newest event time and when that was written.
// A record not written for Options.OrderTTL counts as absent, and such
// records are swept once per OrderTTL.
type StatusOrder struct{ s *Store }

var _ store.StatusOrder = StatusOrder{}

// StatusOrder returns the store's StatusOrder.
func (s *Store) StatusOrder() StatusOrder { return StatusOrder{s: s} }

// Advance implements store.StatusOrder.
func (o StatusOrder) Advance(ctx context.Context, key string, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	k := sha256.Sum256([]byte(key))
	now := o.s.opts.Now()
	ttl := o.s.opts.OrderTTL
	// A refusal writes nothing.
	newer := false
	err := o.s.db.View(func(tx *bolt.Tx) error {
		newer = laterRecorded(tx.Bucket(bucketOrder).Get(k[:]), at, now, ttl)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("reading a status order record: %w", err)
	}
	if newer {
		return false, nil
	}
	err = o.s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOrder)
		if newer = laterRecorded(b.Get(k[:]), at, now, ttl); newer {
			return nil
		}
		v := make([]byte, 16)
		putTime(v, at)
		putTime(v[8:], now)
		return b.Put(k[:], v)
	})
	if err != nil {
		return false, fmt.Errorf("writing a status order record: %w", err)
	}
	if dueSweep(&o.s.orderSwept, now, ttl) {
		o.s.sweepOrder(now)
	}
	return !newer, nil
}

// laterRecorded reports whether record v, read at now, holds a time after
// at and is not expired.
func laterRecorded(v []byte, at, now time.Time, ttl time.Duration) bool {
	return v != nil && getTime(v).After(at) && now.Sub(getTime(v[8:])) <= ttl
}

// sweepOrder deletes the records not written for OrderTTL. It reads them
// all, once per OrderTTL: a status is written per delivery, far less often
// than events arrive.
func (s *Store) sweepOrder(now time.Time) {
	var n int
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOrder)
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			if now.Sub(getTime(v[8:])) > s.opts.OrderTTL {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(expired)
		return nil
	})
	if err != nil {
		s.opts.Logger.Error("sweeping expired status order records failed", "error", err.Error())
		return
	}
	if n > 0 {
		s.opts.Logger.Debug("swept expired status order records", "swept", n)
	}
}
