package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/boltdb"
)

// BenchmarkResume10k is herald serve's start-up with 10,000 pending
// deliveries in its state: opening the file and scheduling every job.
func BenchmarkResume10k(b *testing.B) {
	path := filepath.Join(b.TempDir(), "herald.db")
	st, err := boltdb.Open(path, boltdb.Options{})
	if err != nil {
		b.Fatal(err)
	}
	const pending = 10_000
	now := time.Now()
	recs := make([]store.DeliveryRecord, 0, pending)
	for i := range pending {
		job := Job{
			ID: fmt.Sprintf("%064d", i), Event: notifytest.ReferenceEvent(event.SeverityInfo, true),
			Provider: ProviderRef{Namespace: "flux-system", Name: "slack"}, ProviderType: "slack",
			Alert: "flux-system/all", Attempt: 3, Queued: now,
		}
		recs = append(recs, store.DeliveryRecord{ID: job.ID, Job: mustJSON(b, job), LastError: "request failed with status code 503",
			NextAttempt: now.Add(time.Hour), Updated: now})
	}
	for i := 0; i < pending; i += 1000 {
		if err := st.PutDeliveries(context.Background(), recs[i:i+1000]...); err != nil {
			b.Fatal(err)
		}
	}
	st.Close()
	b.ResetTimer()
	for range b.N {
		st, err := boltdb.Open(path, boltdb.Options{})
		if err != nil {
			b.Fatal(err)
		}
		d := &Deliverer{Targets: func(ProviderRef) (Target, error) { return Target{}, nil }, Metrics: metrics.Nop{}, Logger: slog.New(slog.DiscardHandler)}
		q := NewMemoryQueue(d, 1, 8192)
		q.Journal = st
		n, err := q.Resume(context.Background())
		if err != nil || n != pending {
			b.Fatalf("Resume() = %d, %v", n, err)
		}
		b.StopTimer()
		q.Close(context.Background())
		st.Close()
		b.StartTimer()
	}
}
