package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/receiver"
)

// ReconcileRequests keeps reconcile requests in memory for local mode.
type ReconcileRequests struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.Mutex
	seq      uint64
	clusters map[string][]receiver.ReconcileRequest
}

// NewReconcileRequests keeps requests for ttl.
func NewReconcileRequests(ttl time.Duration) *ReconcileRequests {
	return &ReconcileRequests{ttl: ttl, now: time.Now, clusters: map[string][]receiver.ReconcileRequest{}}
}

// PutReconcileRequests implements store.ReconcileRequests.
func (r *ReconcileRequests) PutReconcileRequests(_ context.Context, cluster string, reqs []receiver.ReconcileRequest) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(cluster)
	for _, req := range reqs {
		r.seq++
		// Time first, so IDs sort like the store's across partitions.
		req.ID = fmt.Sprintf("%020d-%08d", req.RequestedAt.UnixNano(), r.seq)
		r.clusters[cluster] = append(r.clusters[cluster], req)
	}
	return nil
}

// ListReconcileRequests implements store.ReconcileRequests.
func (r *ReconcileRequests) ListReconcileRequests(_ context.Context, cluster, after string, limit int) ([]receiver.ReconcileRequest, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.expire(cluster)
	var out []receiver.ReconcileRequest
	for _, req := range r.clusters[cluster] {
		if req.ID > after && len(out) < limit {
			out = append(out, req)
		}
	}
	return out, nil
}

func (r *ReconcileRequests) expire(cluster string) {
	cutoff := r.now().Add(-r.ttl)
	reqs := r.clusters[cluster]
	i := 0
	for i < len(reqs) && reqs[i].RequestedAt.Before(cutoff) {
		i++
	}
	r.clusters[cluster] = reqs[i:]
}
