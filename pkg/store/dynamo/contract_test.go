package dynamo

import (
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/storetest"
)

// The contracts local mode's stores pass too.

func TestDeduperContract(t *testing.T) {
	storetest.Deduper(t, func(interval time.Duration) store.Deduper {
		return newEnv(t, Options{DedupInterval: interval}).store.Deduper()
	})
}

func TestReplaysContract(t *testing.T) {
	storetest.Replays(t, func(interval time.Duration) store.Deduper {
		return newEnv(t, Options{DedupInterval: interval}).store.Deduper()
	})
}

func TestReconcileRequestsContract(t *testing.T) {
	// The real clock: the contract's requests are recorded by separate
	// puts, whose IDs are the store's time.
	storetest.ReconcileRequests(t, newEnv(t, Options{Now: time.Now}).store)
}
