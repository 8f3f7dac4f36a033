package dynamo

import (
	"context"
	"crypto/rand"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/store"
)

const (
	deliveryPrefix = "delivery#"
	deliverySK     = "delivery"
	attrState      = "state"
	attrLeaseUntil = "leaseUntil"
	attrOwner      = "owner"
	stateClaimed   = "claimed"
	stateDone      = "done"
)

// ClaimDelivery claims the delivery jobID for lease. The conditional put of
// pk="delivery#<jobID>" succeeds when there is no record, when the record's
// lease has run out while still claimed (a worker crashed), or when the
// record has expired; otherwise the failed condition returns the record
// (ReturnValuesOnConditionCheckFailure=ALL_OLD), which tells done from in
// progress without another read. Leases are whole seconds, rounded up.
func (s *Store) ClaimDelivery(ctx context.Context, jobID string, lease time.Duration) (store.ClaimResult, error) {
	pk := deliveryPrefix + jobID
	now := s.now()
	leaseUntil := ceilUnix(now.Add(lease))
	token := rand.Text()
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			attrPK:         str(pk),
			attrSK:         str(deliverySK),
			attrState:      str(stateClaimed),
			attrLeaseUntil: num(leaseUntil),
			attrOwner:      str(token),
			attrExpiresAt:  num(ceilUnix(now.Add(s.opts.DeliveryTTL))),
		},
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR (#state = :claimed AND #lease <= :now) OR #exp <= :now"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#state": attrState, "#lease": attrLeaseUntil, "#exp": attrExpiresAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": str(stateClaimed),
			":now":     num(now.Unix()),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return store.ClaimResult{State: store.Claimed, LeaseUntil: time.Unix(leaseUntil, 0), Token: token}, nil
	}
	ccf, ok := conditionFailed(err)
	if !ok {
		return store.ClaimResult{}, opError("PutItem", pk, deliverySK, err)
	}
	if getS(ccf.Item, attrState) == stateDone {
		return store.ClaimResult{State: store.AlreadyDone}, nil
	}
	other, _ := getN(ccf.Item, attrLeaseUntil)
	return store.ClaimResult{State: store.InProgress, LeaseUntil: time.Unix(other, 0)}, nil
}

// CompleteDelivery marks jobID delivered, whoever holds the claim, and keeps
// the record for the store's DeliveryTTL from now. It writes the record even
// when it has expired meanwhile.
func (s *Store) CompleteDelivery(ctx context.Context, jobID string) error {
	pk := deliveryPrefix + jobID
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(pk, deliverySK),
		UpdateExpression:         aws.String("SET #state = :done, #exp = :exp REMOVE #lease, #owner"),
		ExpressionAttributeNames: map[string]string{"#state": attrState, "#exp": attrExpiresAt, "#lease": attrLeaseUntil, "#owner": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done": str(stateDone),
			":exp":  num(ceilUnix(s.now().Add(s.opts.DeliveryTTL))),
		},
	})
	if err != nil {
		return opError("UpdateItem", pk, deliverySK, err)
	}
	return nil
}

// ReleaseDelivery gives up the claim token made on jobID after a failed
// attempt, so that the retry need not wait for the lease to run out. A claim
// that is no longer this token's (its lease ran out and another worker
// claimed the job, or the job is done) is left alone.
func (s *Store) ReleaseDelivery(ctx context.Context, jobID, token string) error {
	pk := deliveryPrefix + jobID
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(pk, deliverySK),
		ConditionExpression:      aws.String("#state = :claimed AND #owner = :token"),
		ExpressionAttributeNames: map[string]string{"#state": attrState, "#owner": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": str(stateClaimed),
			":token":   str(token),
		},
	})
	if _, ok := conditionFailed(err); ok {
		return nil
	}
	if err != nil {
		return opError("DeleteItem", pk, deliverySK, err)
	}
	return nil
}
