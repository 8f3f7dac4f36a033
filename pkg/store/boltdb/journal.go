package boltdb

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/store"
)

var _ store.DeliveryJournal = (*Store)(nil)

// PutDeliveries implements store.DeliveryJournal. Records are keyed by
// ID, in one bucket for pending deliveries and one for dead letters, so
// that listing either reads only its own; a put moves a record between
// them. The records of one call are one frame of the log, shared with the
// concurrent calls of other events.
func (s *Store) PutDeliveries(ctx context.Context, recs ...store.DeliveryRecord) error {
	if len(recs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	ops := make([]walOp, 0, 2*len(recs))
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
		to, from := walPending, walDead
		if r.Dead {
			to, from = walDead, walPending
		}
		id := []byte(r.ID)
		ops = append(ops, walOp{bucket: from, key: id}, walOp{bucket: to, key: id, value: v})
	}
	err := s.log.write(ops...)
	if err != nil {
		return fmt.Errorf("journaling %d deliveries: %w", len(recs), err)
	}
	return nil
}

// DeleteDelivery implements store.DeliveryJournal. Deliveries end as
// often as they start, and a delete lost to a crash costs one repeated
// delivery, which at-least-once allows: it is written behind, and synced
// with the next write that waits.
func (s *Store) DeleteDelivery(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	key := []byte(id)
	s.log.writeBehind(walOp{bucket: walPending, key: key}, walOp{bucket: walDead, key: key})
	return nil
}

// ListDeliveries implements store.DeliveryJournal. Records of equal
// Updated come in ID order.
func (s *Store) ListDeliveries(ctx context.Context, dead bool) ([]store.DeliveryRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The log's latest frames may not be in the file yet.
	if err := s.log.flush(); err != nil {
		return nil, fmt.Errorf("listing the journal's %s: %w", journalPart(dead), err)
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
	meta, ok := appendRecordMeta(make([]byte, 0, 160), &r)
	if !ok {
		var err error
		if meta, err = json.Marshal(r); err != nil {
			return nil, err
		}
	}
	v := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64+len(meta)+len(job)), uint64(len(meta)))
	v = append(v, meta...)
	return append(v, job...), nil
}

// appendRecordMeta appends the JSON json.Marshal makes of r without its
// job. It reports false for a time out of JSON's range, which json.Marshal
// then refuses with its own error.
func appendRecordMeta(b []byte, r *store.DeliveryRecord) ([]byte, bool) {
	b = append(b, `{"id":`...)
	b = event.AppendJSONString(b, r.ID)
	b = append(b, `,"job":null`...)
	if r.Dead {
		b = append(b, `,"dead":true`...)
	}
	if r.LastError != "" {
		b = append(b, `,"lastError":`...)
		b = event.AppendJSONString(b, r.LastError)
	}
	if r.Reason != "" {
		b = append(b, `,"reason":`...)
		b = event.AppendJSONString(b, r.Reason)
	}
	var err error
	if !r.NextAttempt.IsZero() {
		b = append(b, `,"nextAttempt":`...)
		if b, err = appendTime(b, r.NextAttempt); err != nil {
			return nil, false
		}
	}
	b = append(b, `,"updated":`...)
	if b, err = appendTime(b, r.Updated); err != nil {
		return nil, false
	}
	return append(b, '}'), true
}

func appendTime(b []byte, t time.Time) ([]byte, error) {
	text, err := t.MarshalJSON()
	return append(b, text...), err
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
