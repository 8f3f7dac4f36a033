package sqsqueue_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/delivery"
)

// A retried delivery is recorded as pending with its attempt, last error
// and next attempt, for herald deliveries; its next receive claims it.
func TestHandleRetryRecordsPending(t *testing.T) {
	e := newEnv(t)
	rec := e.receive(body(t, job("j-busy", "busy")), 3)
	e.handle(t, rec)
	recs, err := e.store.ListPendingDeliveries(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].ID != "j-busy" {
		t.Fatalf("pending %+v, want j-busy", recs)
	}
	var entry delivery.Entry
	if err := json.Unmarshal(recs[0].Job, &entry); err != nil {
		t.Fatal(err)
	}
	if entry.State != delivery.StatePending || entry.Attempts != 3 || entry.Provider != "flux-system/busy" ||
		entry.LastError != recs[0].LastError || recs[0].LastError == "" || !recs[0].NextAttempt.Equal(e.now.Add(8*time.Second)) {
		t.Fatalf("pending entry %+v, record %+v", entry, recs[0])
	}

	rec = e.receive(body(t, job("j-busy", "busy")), 4)
	e.handle(t, rec)
	recs, _ = e.store.ListPendingDeliveries(context.Background())
	if len(recs) != 1 || !recs[0].NextAttempt.Equal(e.now.Add(16*time.Second)) {
		t.Fatalf("pending after the next attempt %+v", recs)
	}
}
