package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
)

var _ store.DeliveryJournal = (*Store)(nil)

// PutDeliveries implements store.DeliveryJournal. Records are JSON, keyed
// by ID, in one bucket for pending deliveries and one for dead letters, so
// that listing either reads only its own; a put moves a record between
// them. The records of one call are one transaction, shared with the
// concurrent calls of other events.
func (s *Store) PutDeliveries(ctx context.Context, recs ...store.DeliveryRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// Everything that can fail on a record's own account fails here,
	// before the batch, which would otherwise run this caller twice.
	type put struct {
		id, v []byte
		dead  bool
	}
	puts := make([]put, len(recs))
	for i, r := range recs {
		if r.ID == "" {
			return fmt.Errorf("journaling %d deliveries: record %d has no id", len(recs), i)
		}
		if len(r.ID) > bolt.MaxKeySize {
			return fmt.Errorf("journaling %d deliveries: record %d has an id of %d bytes, over %d", len(recs), i, len(r.ID), bolt.MaxKeySize)
		}
		v, err := encodeRecord(r)
		if err != nil {
			return fmt.Errorf("journaling %d deliveries: record %d: %w", len(recs), i, err)
		}
		puts[i] = put{id: []byte(r.ID), v: v, dead: r.Dead}
	}
	err := s.commits.write(func(tx *bolt.Tx) error {
		pending, dead := tx.Bucket(bucketPending), tx.Bucket(bucketDead)
		for _, p := range puts {
			to, from := pending, dead
			if p.dead {
				to, from = dead, pending
			}
			if err := from.Delete(p.id); err != nil {
				return err
			}
			if err := to.Put(p.id, p.v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("journaling %d deliveries: %w", len(recs), err)
	}
	return nil
}

// DeleteDelivery implements store.DeliveryJournal. Deliveries end as
// often as they start, so deletes are batched too.
func (s *Store) DeleteDelivery(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.commits.write(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketPending).Delete([]byte(id)); err != nil {
			return err
		}
		return tx.Bucket(bucketDead).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("deleting a delivery from the journal: %w", err)
	}
	return nil
}

// ListDeliveries implements store.DeliveryJournal. Records of equal
// Updated come in ID order.
func (s *Store) ListDeliveries(ctx context.Context, dead bool) ([]store.DeliveryRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := bucketPending
	if dead {
		name = bucketDead
	}
	var recs []store.DeliveryRecord
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(name).ForEach(func(k, v []byte) error {
			r, err := decodeRecord(v)
			if err != nil {
				return fmt.Errorf("record %q: %w", k, err)
			}
			recs = append(recs, r)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("listing the journal's %s: %w", journalPart(dead), err)
	}
	slices.SortStableFunc(recs, func(a, b store.DeliveryRecord) int { return a.Updated.Compare(b.Updated) })
	return recs, nil
}

func journalPart(dead bool) string {
	if dead {
		return "dead letters"
	}
	return "pending deliveries"
}

// A record is stored as the length of its JSON without the job (uvarint),
// that JSON, then the job's bytes as the queue gave them: the job, most
// of a record, is neither base64-encoded nor decoded twice.
func encodeRecord(r store.DeliveryRecord) ([]byte, error) {
	job := r.Job
	r.Job = nil
	meta, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	v := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(meta)+len(job)), uint64(len(meta)))
	v = append(v, meta...)
	return append(v, job...), nil
}

func decodeRecord(v []byte) (store.DeliveryRecord, error) {
	var r store.DeliveryRecord
	n, size := binary.Uvarint(v)
	if size <= 0 || uint64(len(v)-size) < n {
		return r, errors.New("not a journal record")
	}
	if err := json.Unmarshal(v[size:size+int(n)], &r); err != nil {
		return r, err
	}
	r.Job = bytes.Clone(v[size+int(n):])
	return r, nil
}
