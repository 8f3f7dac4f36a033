package memory

import (
	"context"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// StatusOrder is local mode's store.StatusOrder. Records older than keep
// are dropped as new ones arrive, since no delivery waits that long.
type StatusOrder struct {
	keep time.Duration
	now  func() time.Time

	mu     sync.Mutex
	latest map[string]time.Time
	pruned time.Time
}

var _ store.StatusOrder = (*StatusOrder)(nil)

// NewStatusOrder returns an empty StatusOrder that keeps records for keep.
func NewStatusOrder(keep time.Duration) *StatusOrder {
	return &StatusOrder{keep: keep, now: time.Now, latest: map[string]time.Time{}}
}

// Advance implements store.StatusOrder.
func (o *StatusOrder) Advance(_ context.Context, key string, at time.Time) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if last, ok := o.latest[key]; ok && last.After(at) {
		return false, nil
	}
	o.latest[key] = at
	if now := o.now(); now.Sub(o.pruned) > o.keep {
		for k, t := range o.latest {
			if now.Sub(t) > o.keep {
				delete(o.latest, k)
			}
		}
		o.pruned = now
	}
	return true, nil
}
