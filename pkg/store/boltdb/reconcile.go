package boltdb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
)

var _ store.ReconcileRequests = (*Store)(nil)

// reconcileTimeDigits is the width of the time part of an ID.
const reconcileTimeDigits = 20

// PutReconcileRequests implements store.ReconcileRequests. Each cluster has
// a bucket of requests keyed by ID, as the memory store makes them:
// "<RequestedAt in unix nanoseconds, 20 digits>-<sequence, 8 digits>", so
// that a bucket reads in time order and the poll cursor is a key. The
// sequence is kept in the file and never repeats. The IDs are set in reqs;
// a zero RequestedAt is set to now, as the DynamoDB store does.
//
// Requests are not deleted when read; requests older than ReconcileTTL are
// skipped, and deleted from every cluster by the next put.
func (s *Store) PutReconcileRequests(ctx context.Context, cluster string, reqs []receiver.ReconcileRequest) error {
	if cluster == "" {
		return fmt.Errorf("recording %d reconcile requests: cluster is required", len(reqs))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	now := s.opts.Now()
	out := make([]receiver.ReconcileRequest, len(reqs))
	err := s.db.Update(func(tx *bolt.Tx) error {
		root := tx.Bucket(bucketReconcile)
		if err := expireReconcile(root, now.Add(-s.opts.ReconcileTTL)); err != nil {
			return err
		}
		if len(reqs) == 0 {
			return nil
		}
		b, err := root.CreateBucketIfNotExists([]byte(cluster))
		if err != nil {
			return err
		}
		for i, r := range reqs {
			if r.RequestedAt.IsZero() {
				r.RequestedAt = now
			}
			seq, err := root.NextSequence()
			if err != nil {
				return err
			}
			r.ID = fmt.Sprintf("%0*d-%08d", reconcileTimeDigits, r.RequestedAt.UnixNano(), seq)
			v, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(r.ID), v); err != nil {
				return err
			}
			out[i] = r
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording %d reconcile requests for cluster %s: %w", len(reqs), cluster, err)
	}
	copy(reqs, out)
	return nil
}

// ListReconcileRequests implements store.ReconcileRequests.
func (s *Store) ListReconcileRequests(ctx context.Context, cluster, after string, limit int) ([]receiver.ReconcileRequest, error) {
	if limit <= 0 || cluster == "" {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cutoff := s.opts.Now().Add(-s.opts.ReconcileTTL)
	var reqs []receiver.ReconcileRequest
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketReconcile).Bucket([]byte(cluster))
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Seek([]byte(after)); k != nil && len(reqs) < limit; k, v = c.Next() {
			if string(k) <= after || requestedBefore(k, cutoff) {
				continue
			}
			var r receiver.ReconcileRequest
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("request %s: %w", k, err)
			}
			reqs = append(reqs, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing reconcile requests of cluster %s: %w", cluster, err)
	}
	return reqs, nil
}

// requestedBefore reports whether the request of ID id was requested before
// t. An ID it cannot read counts as expired.
func requestedBefore(id []byte, t time.Time) bool {
	if len(id) < reconcileTimeDigits {
		return true
	}
	ns, err := strconv.ParseInt(string(id[:reconcileTimeDigits]), 10, 64)
	return err != nil || time.Unix(0, ns).Before(t)
}

// expireReconcile deletes, in every cluster's bucket, the requests
// requested before cutoff: they sort first. A bucket left empty goes too.
func expireReconcile(root *bolt.Bucket, cutoff time.Time) error {
	var clusters, empty [][]byte
	err := root.ForEachBucket(func(name []byte) error {
		clusters = append(clusters, bytes.Clone(name))
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range clusters {
		b := root.Bucket(name)
		var expired [][]byte
		c := b.Cursor()
		k, _ := c.First()
		for ; k != nil && requestedBefore(k, cutoff); k, _ = c.Next() {
			expired = append(expired, bytes.Clone(k))
		}
		if k == nil {
			empty = append(empty, name)
			continue
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
	}
	for _, name := range empty {
		if err := root.DeleteBucket(name); err != nil {
			return err
		}
	}
	return nil
}
