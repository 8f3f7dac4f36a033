// Package store holds the ports between Herald's handlers and its state:
// de-duplication, reconcile requests and delivery claims. The memory
// implementation serves local mode; the DynamoDB one serves AWS. Compiled
// config is not state and lives in pkg/config.
package store

import (
	"context"
	"time"

	"github.com/heraldhq/herald/pkg/receiver"
)

// Deduper records de-duplication keys for the rate-limit interval.
type Deduper interface {
	// Claim records key at now. It reports false when key was already
	// claimed in the current window, and when the window ends.
	Claim(ctx context.Context, key string, now time.Time) (ok bool, reset time.Time, err error)
	// ClaimSigned is Claim for a signed request, which also records sig as
	// Replays.Seen does, in the same write where the store can: a replayed
	// sig claims nothing and reports replayed; otherwise ok and reset are
	// Claim's, and sig stays recorded whether the claim won or not, so
	// that a request refused as a duplicate cannot be replayed once its
	// window has ended either.
	ClaimSigned(ctx context.Context, key string, sig Signature, now time.Time) (replayed, ok bool, reset time.Time, err error)
	// Forget drops key, so that an event whose processing failed after its
	// claim can be sent again.
	Forget(ctx context.Context, key string) error
}

// Signature is a verified request signature as the replay guard keeps it.
type Signature struct {
	// Key names it: the cluster and the signature (clusterauth's
	// Signed.ReplayKey), unique per request thanks to its nonce.
	Key string
	// Expires is when the request is too old to be accepted anyway; the
	// store may forget the key from then on.
	Expires time.Time
}

// Replays remembers the signatures of authenticated requests until they
// expire, so that each signed request is accepted once: a signature seen
// before is a replay, whatever the answer to it was.
type Replays interface {
	// Seen records sig; replayed is true when it was recorded already and
	// has not expired at now.
	Seen(ctx context.Context, sig Signature, now time.Time) (replayed bool, err error)
}

// AllClusters is the cluster key of reconcile requests from Receivers that
// carry no cluster label: every cluster's forwarder reads them.
const AllClusters = "*"

// ReconcileRequests holds the reconcile requests of each cluster until its
// forwarder has read them or they expire.
type ReconcileRequests interface {
	// PutReconcileRequests records reqs for cluster, assigning their IDs.
	PutReconcileRequests(ctx context.Context, cluster string, reqs []receiver.ReconcileRequest) error
	// ListReconcileRequests returns the unexpired requests of cluster whose
	// ID sorts after after, oldest first, at most limit of them.
	ListReconcileRequests(ctx context.Context, cluster, after string, limit int) ([]receiver.ReconcileRequest, error)
}

// ClaimState is the outcome of a delivery claim.
type ClaimState string

// Claim outcomes.
const (
	// Claimed: this worker may send; it completes the claim after a
	// success and releases it after a failure.
	Claimed ClaimState = "claimed"
	// AlreadyDone: the job was delivered; acknowledge it without sending.
	AlreadyDone ClaimState = "alreadyDone"
	// InProgress: another worker holds an unexpired lease; try again after
	// LeaseUntil.
	InProgress ClaimState = "inProgress"
)

// ClaimResult is the outcome of a delivery claim.
type ClaimResult struct {
	State ClaimState
	// LeaseUntil is when the lease ends: this worker's when Claimed, the
	// other worker's when InProgress.
	LeaseUntil time.Time
	// Token identifies this claim to its release, when Claimed.
	Token string
}

// StatusOrder keeps, per Git status or comment, the time of the newest
// event that was allowed to set it, so that a delivery retried for a long
// time, or replayed from the dead-letter queue, never overwrites what a
// newer event set: a queue does not keep order, and a late "failed" must
// not turn a commit red again after a later "succeeded".
type StatusOrder interface {
	// Advance records at for key unless a later time is recorded; ok is
	// false when one is, and the caller must not set the status. An equal
	// time is allowed, so that a retry of the same event goes through.
	Advance(ctx context.Context, key string, at time.Time) (ok bool, err error)
}

// DeliveryRecord is a delivery that local mode keeps on disk until it is
// done: pending (queued or waiting for a retry) or dead-lettered.
type DeliveryRecord struct {
	// ID is the job's id (delivery.JobID); one record per id.
	ID string `json:"id"`
	// Job is the job as the queue encoded it; the store does not read it.
	Job []byte `json:"job"`
	// Dead marks a dead letter: given up, kept until it is replayed.
	Dead bool `json:"dead,omitempty"`
	// LastError is the error of the last failed attempt, masked as it is
	// logged.
	LastError string `json:"lastError,omitempty"`
	// Reason says why a dead letter was given up.
	Reason string `json:"reason,omitempty"`
	// NextAttempt is when a pending delivery is due; zero means now.
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
	// Updated is when the record was last written.
	Updated time.Time `json:"updated"`
}

// DeliveryJournal keeps local mode's deliveries across restarts: a job is
// put before its event is answered 202, rewritten after every failed
// attempt, and deleted once it is delivered. A crash after Put returns
// loses nothing.
type DeliveryJournal interface {
	// PutDeliveries adds or replaces recs, all or none.
	PutDeliveries(ctx context.Context, recs ...DeliveryRecord) error
	// DeleteDelivery removes the record of id; a missing one is no error.
	// A store may make the delete durable after it returns: one lost to a
	// crash means the job is delivered again, which at-least-once allows.
	DeleteDelivery(ctx context.Context, id string) error
	// ListDeliveries returns the pending records (dead false) or the dead
	// letters (dead true), oldest Updated first.
	ListDeliveries(ctx context.Context, dead bool) ([]DeliveryRecord, error)
}
