package delivery

import (
	"context"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Idempotency records which jobs were delivered, so that a queue that
// delivers a message twice never posts twice after a success. The DynamoDB
// store implements it.
type Idempotency interface {
	// ClaimDelivery takes jobID for lease; the result's token identifies
	// the claim to ReleaseDelivery.
	ClaimDelivery(ctx context.Context, jobID string, lease time.Duration) (store.ClaimResult, error)
	// CompleteDelivery marks jobID delivered.
	CompleteDelivery(ctx context.Context, jobID string) error
	// ReleaseDelivery gives up the claim token after a failed attempt.
	ReleaseDelivery(ctx context.Context, jobID, token string) error
	// ReleaseForRetry gives up the claim token after a failed attempt
	// that will be retried, and keeps pending (Job holding the JSON of the
	// delivery's Entry) until the job is claimed again, so that herald
	// deliveries can list it with its last error.
	ReleaseForRetry(ctx context.Context, jobID, token string, pending store.DeliveryRecord) error
}
