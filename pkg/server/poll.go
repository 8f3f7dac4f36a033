package server

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
)

// MaxPollRequests bounds one poll's answer; the forwarder polls again with
// the returned cursor.
const MaxPollRequests = 100

// Poll serves GET /reconcile-requests to the forwarder: the requests of its
// cluster and of Receivers for every cluster, after the cursor it sends as
// ?after=.
type Poll struct {
	// Auth identifies the cluster; nil (local mode without tokens) serves
	// the requests of Receivers for every cluster only.
	Auth *Authenticator
	// Replays refuses a signed poll seen before; required with Auth.
	Replays  store.Replays
	Requests store.ReconcileRequests
	Logger   *slog.Logger
	Now      func() time.Time
}

// PollResponse is the answer to a poll.
type PollResponse struct {
	Requests []receiver.ReconcileRequest `json:"requests"`
	// Cursor is the ID of the last request returned, or the cursor sent.
	Cursor string `json:"cursor"`
}

func (p *Poll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	body, status, err := readBody(w, r, 1<<10)
	if err != nil {
		writeError(w, status, err.Error())
		return
	}
	cluster := ""
	if p.Auth != nil {
		caller, err := p.Auth.Verify(r.Context(), r, body, now)
		if err != nil {
			writeError(w, http.StatusUnauthorized, err.Error())
			return
		}
		if p.Replays == nil {
			// A wiring mistake: fail closed rather than accept replays.
			p.Logger.Error("signed polls need a replay guard (Poll.Replays)")
			writeError(w, http.StatusInternalServerError, "replay guard unavailable")
			return
		}
		replayed, err := p.Replays.Seen(r.Context(), caller.Signature, now)
		if err != nil {
			p.Logger.Error("recording the request signature failed", "error", err.Error())
			writeError(w, http.StatusInternalServerError, "replay guard unavailable")
			return
		}
		if replayed {
			p.Logger.Warn("replayed request refused", "cluster", caller.Cluster)
			writeError(w, http.StatusUnauthorized, ErrReplayed.Error())
			return
		}
		cluster = caller.Cluster
	}
	after := r.URL.Query().Get("after")
	if len(after) > 64 || strings.ContainsFunc(after, func(c rune) bool { return c != '-' && (c < '0' || c > '9') }) {
		writeError(w, http.StatusBadRequest, "after must be a cursor returned by a previous poll")
		return
	}
	partitions := []string{store.AllClusters}
	if cluster != "" {
		partitions = append(partitions, cluster)
	}
	resp := PollResponse{Requests: []receiver.ReconcileRequest{}, Cursor: after}
	for _, part := range partitions {
		reqs, err := p.Requests.ListReconcileRequests(r.Context(), part, after, MaxPollRequests)
		if err != nil {
			p.Logger.Error("listing reconcile requests failed", "cluster", part, "error", err.Error())
			writeError(w, http.StatusInternalServerError, "listing reconcile requests failed")
			return
		}
		resp.Requests = append(resp.Requests, reqs...)
	}
	slices.SortFunc(resp.Requests, func(a, b receiver.ReconcileRequest) int { return strings.Compare(a.ID, b.ID) })
	if len(resp.Requests) > MaxPollRequests {
		resp.Requests = resp.Requests[:MaxPollRequests]
	}
	if n := len(resp.Requests); n > 0 {
		resp.Cursor = resp.Requests[n-1].ID
	}
	writeJSON(w, http.StatusOK, resp)
}
