package sqsqueue

import (
	"context"
	"fmt"
	"time"

	"github.com/heraldhq/herald/pkg/store/dynamo"
)

// ClaimState is the outcome of Idempotency.Claim.
type ClaimState int

// Claim outcomes.
const (
	// Claimed: send, then Complete after a success or Release after a
	// failure.
	Claimed ClaimState = iota
	// AlreadyDone: the job was delivered before; acknowledge it unsent.
	AlreadyDone
	// InProgress: another worker holds the job; try again later.
	InProgress
)

func (s ClaimState) String() string {
	switch s {
	case Claimed:
		return "claimed"
	case AlreadyDone:
		return "alreadyDone"
	case InProgress:
		return "inProgress"
	}
	return fmt.Sprintf("ClaimState(%d)", int(s))
}

// Idempotency records which jobs were delivered, so that a redelivered
// message never posts twice after a success.
type Idempotency interface {
	// Claim takes jobID for lease; token identifies the claim to Release.
	Claim(ctx context.Context, jobID string, lease time.Duration) (state ClaimState, token string, err error)
	// Complete marks jobID delivered.
	Complete(ctx context.Context, jobID string) error
	// Release gives up the claim token after a failed attempt.
	Release(ctx context.Context, jobID, token string) error
}

// DynamoIdempotency keeps the records in Herald's DynamoDB table.
type DynamoIdempotency struct {
	Store *dynamo.Store
}

var _ Idempotency = DynamoIdempotency{}

// Claim implements Idempotency with dynamo's ClaimDelivery.
func (d DynamoIdempotency) Claim(ctx context.Context, jobID string, lease time.Duration) (ClaimState, string, error) {
	r, err := d.Store.ClaimDelivery(ctx, jobID, lease)
	if err != nil {
		return 0, "", err
	}
	switch r.State {
	case dynamo.Claimed:
		return Claimed, r.Token, nil
	case dynamo.AlreadyDone:
		return AlreadyDone, "", nil
	case dynamo.InProgress:
		return InProgress, "", nil
	}
	return 0, "", fmt.Errorf("unknown claim state %q", r.State)
}

// Complete implements Idempotency with dynamo's CompleteDelivery.
func (d DynamoIdempotency) Complete(ctx context.Context, jobID string) error {
	return d.Store.CompleteDelivery(ctx, jobID)
}

// Release implements Idempotency with dynamo's ReleaseDelivery.
func (d DynamoIdempotency) Release(ctx context.Context, jobID, token string) error {
	return d.Store.ReleaseDelivery(ctx, jobID, token)
}
