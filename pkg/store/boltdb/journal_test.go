package boltdb

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/storetest"
)

func TestDeliveryJournalContract(t *testing.T) {
	storetest.DeliveryJournal(t, openStore(t, Options{}))
}

// Of two records of one ID in one put, the later is kept.
func TestPutDeliveriesSameIDTwice(t *testing.T) {
	ctx := context.Background()
	s := openStore(t, Options{})
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	first := store.DeliveryRecord{ID: "a", Job: []byte("1"), Updated: t0}
	second := store.DeliveryRecord{ID: "a", Job: []byte("2"), Dead: true, Reason: "gave up", Updated: t0.Add(time.Second)}
	if err := s.PutDeliveries(ctx, first, second); err != nil {
		t.Fatal(err)
	}
	if recs, err := s.ListDeliveries(ctx, false); err != nil || len(recs) != 0 {
		t.Errorf("pending %+v, %v; want none", recs, err)
	}
	if recs, err := s.ListDeliveries(ctx, true); err != nil || len(recs) != 1 || string(recs[0].Job) != "2" {
		t.Errorf("dead %+v, %v; want the second record", recs, err)
	}
}

func TestDeliveryJournalCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := openStore(t, Options{})
	if err := s.DeleteDelivery(ctx, "a"); err == nil {
		t.Error("DeleteDelivery with a canceled context succeeded")
	}
	if _, err := s.ListDeliveries(ctx, false); err == nil {
		t.Error("ListDeliveries with a canceled context succeeded")
	}
}
