package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
)

// ReceiverLookup finds the Receiver of a webhook digest and its secret data;
// a nil Receiver means there is none.
type ReceiverLookup func(ctx context.Context, digest string) (*api.Receiver, map[string][]byte, error)

// SnapshotReceivers looks Receivers up in the current config snapshot.
func SnapshotReceivers(config config.Source) ReceiverLookup {
	return func(_ context.Context, digest string) (*api.Receiver, map[string][]byte, error) {
		snap := config.Snapshot()
		if snap == nil {
			return nil, nil, errors.New("config not loaded")
		}
		r, ok := snap.Receiver(digest)
		if !ok {
			return nil, nil, nil
		}
		return r.Receiver, r.Secret, nil
	}
}

// Hooks serves /hook/<digest>: it verifies the call as the Receiver's type
// requires and records reconcile requests for the Receiver's cluster.
type Hooks struct {
	Lookup   ReceiverLookup
	Verifier *receiver.Verifier
	Requests store.ReconcileRequests
	Logger   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (h *Hooks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Like Flux, match the raw request URI: a query string finds nothing.
	digest, ok := strings.CutPrefix(r.RequestURI, receiver.HookPrefix)
	if !ok || !isDigest(digest) {
		writeError(w, http.StatusNotFound, "no receiver for this path")
		return
	}
	body, status, err := readBody(w, r, MaxEventBytes)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	rcv, secret, err := h.Lookup(r.Context(), digest)
	if err != nil {
		h.Logger.Error("receiver lookup failed", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "receiver lookup failed")
		return
	}
	if rcv == nil {
		writeError(w, http.StatusNotFound, "no receiver for this path")
		return
	}
	ref := rcv.Metadata.Namespace + "/" + rcv.Metadata.Name
	if rcv.Spec.Suspend {
		writeError(w, http.StatusServiceUnavailable, "receiver "+ref+" is suspended")
		return
	}
	call := &receiver.Request{Header: r.Header, Body: body}
	verified, err := h.Verifier.Verify(r.Context(), rcv, secret, call)
	if err != nil {
		var rerr *receiver.Error
		status := http.StatusBadRequest
		if errors.As(err, &rerr) {
			status = rerr.Status
		}
		h.Logger.Info("webhook refused", "receiver", ref, "type", rcv.Spec.Type, "status", status, "error", err.Error())
		writeError(w, status, err.Error())
		return
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	// As in Flux, a resource that fails (a filter that fails to evaluate,
	// say) does not stop the others: their requests are recorded, and
	// the call still answers 500.
	reqs, reqErr := receiver.Requests(r.Context(), rcv, call, verified, now)
	if reqErr != nil {
		h.Logger.Error("unable to request reconciliation", "receiver", ref, "error", reqErr.Error())
	}
	cluster := rcv.Metadata.Cluster()
	if cluster == "" {
		cluster = store.AllClusters
	}
	if len(reqs) > 0 {
		if err := h.Requests.PutReconcileRequests(r.Context(), cluster, reqs); err != nil {
			h.Logger.Error("recording reconcile requests failed", "receiver", ref, "error", err.Error())
			writeError(w, http.StatusInternalServerError, "recording reconcile requests failed")
			return
		}
	}
	if reqErr != nil {
		writeError(w, http.StatusInternalServerError, reqErr.Error())
		return
	}
	h.Logger.Info("webhook accepted", "receiver", ref, "type", rcv.Spec.Type, "cluster", cluster, "reconcile_requests", len(reqs))
	writeJSON(w, http.StatusOK, map[string]int{"reconcileRequests": len(reqs)})
}

func isDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// StoreReceivers looks Receivers up by digest in a store and reads their
// secrets, for the receiver Lambda.
func StoreReceivers(byDigest func(ctx context.Context, digest string) (api.Receiver, bool, error), secrets notify.SecretLookup) ReceiverLookup {
	return func(ctx context.Context, digest string) (*api.Receiver, map[string][]byte, error) {
		rcv, ok, err := byDigest(ctx, digest)
		if err != nil || !ok {
			return nil, nil, err
		}
		if rcv.Spec.SecretRef == nil {
			return &rcv, nil, nil
		}
		secret, err := secrets(rcv.Metadata.Namespace, rcv.Spec.SecretRef.Name)
		if err != nil {
			return nil, nil, err
		}
		return &rcv, secret, nil
	}
}
