package memory

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// StatusOrder is local mode's store.StatusOrder. Records not written for
// keep are dropped as new ones arrive, since no delivery waits that long.
type StatusOrder struct {
	keep time.Duration
	now  func() time.Time

	mu     sync.Mutex
	latest map[string]record
	pruned time.Time
}

// record is a key's newest event time, and when it was written: a record
// is kept for its writing, not for how old its event is.
type record struct {
	at, written time.Time
}

var _ store.StatusOrder = (*StatusOrder)(nil)

// NewStatusOrder returns an empty StatusOrder that keeps records for keep.
func NewStatusOrder(keep time.Duration) *StatusOrder {
	return &StatusOrder{keep: keep, now: time.Now, latest: map[string]record{}}
}

// Advance implements store.StatusOrder.
func (o *StatusOrder) Advance(_ context.Context, key string, at time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if last, ok := o.latest[key]; ok && last.at.After(at) {
		return false, nil
	}
	now := o.now()
	o.latest[key] = record{at: at, written: now}
	if now.Sub(o.pruned) > o.keep {
		for k, r := range o.latest {
			if now.Sub(r.written) > o.keep {
				delete(o.latest, k)
			}
		}
		o.pruned = now
	}
	return true, nil
}
