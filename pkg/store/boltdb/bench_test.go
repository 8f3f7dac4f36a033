package boltdb

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Ingest runs a handler per request; many claim at once and share fsyncs.
const benchCallers = 64

// BenchmarkDedupClaimParallel claims new keys, each claim a write, and
// keys already claimed, each a read.
func BenchmarkDedupClaimParallel(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	b.Run("new", func(b *testing.B) {
		d := openStore(b, Options{}).Deduper()
		var n atomic.Int64
		b.SetParallelism(benchCallers)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := d.Claim(ctx, strconv.FormatInt(n.Add(1), 16), now); !ok || err != nil {
					b.Errorf("Claim = %v, %v", ok, err)
				}
			}
		})
	})
	b.Run("duplicate", func(b *testing.B) {
		d := openStore(b, Options{}).Deduper()
		const keys = 1000
		for i := range keys {
			if _, _, err := d.Claim(ctx, strconv.Itoa(i), now); err != nil {
				b.Fatal(err)
			}
		}
		var n atomic.Int64
		b.ResetTimer()
		b.SetParallelism(benchCallers)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if ok, _, err := d.Claim(ctx, strconv.Itoa(int(n.Add(1)%keys)), now); ok || err != nil {
					b.Errorf("Claim = %v, %v", ok, err)
				}
			}
		})
	})
}

// BenchmarkJournalPutParallel journals one new 1 KiB job per call.
func BenchmarkJournalPutParallel(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, Options{})
	defer reportSyncs(b, s)()
	job := bytes.Repeat([]byte("x"), 1<<10)
	now := time.Now()
	var n atomic.Int64
	b.SetParallelism(benchCallers)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := store.DeliveryRecord{ID: strconv.FormatInt(n.Add(1), 16), Job: job, Updated: now}
			if err := s.PutDeliveries(ctx, rec); err != nil {
				b.Error(err)
			}
		}
	})
}

// BenchmarkIngestParallel is what the ingest and delivery of one event
// write: a de-duplication claim written behind and a 1 KiB journal record,
// each synced before ingest answers, then the delete of the record once
// the job is delivered.
func BenchmarkIngestParallel(b *testing.B) {
	ctx := context.Background()
	s := openStore(b, Options{})
	defer reportSyncs(b, s)()
	d := s.Deduper()
	job := bytes.Repeat([]byte("x"), 1<<10)
	now := time.Now()
	var n atomic.Int64
	b.SetParallelism(benchCallers)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			id := strconv.FormatInt(n.Add(1), 16)
			if ok, _, err := d.Claim(ctx, id, now); !ok || err != nil {
				b.Errorf("Claim = %v, %v", ok, err)
			}
			if err := s.PutDeliveries(ctx, store.DeliveryRecord{ID: id, Job: job, Updated: now}); err != nil {
				b.Error(err)
			}
			if err := s.DeleteDelivery(ctx, id); err != nil {
				b.Error(err)
			}
		}
	})
}

// reportSyncs reports the log's syncs per operation when the returned
// function is called: what group commit saves.
func reportSyncs(b *testing.B, s *Store) func() {
	before := s.log.syncs.Load()
	return func() {
		b.ReportMetric(float64(s.log.syncs.Load()-before)/float64(b.N), "syncs/op")
	}
}
