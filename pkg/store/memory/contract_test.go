package memory

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/storetest"
)

func TestDeduperContract(t *testing.T) {
	storetest.Deduper(t, func(interval time.Duration) store.Deduper { return NewDeduper(interval) })
}

func TestReconcileRequestsContract(t *testing.T) {
	storetest.ReconcileRequests(t, NewReconcileRequests(time.Hour))
}

func TestReplaysContract(t *testing.T) {
	storetest.Replays(t, func(interval time.Duration) store.Deduper { return NewDeduper(interval) })
}
