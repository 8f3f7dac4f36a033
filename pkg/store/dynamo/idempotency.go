package dynamo

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
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
	statePending   = "pending"
	attrEntry      = "entry"
	attrLastError  = "lastError"
	attrNext       = "nextAttempt"
	attrUpdated    = "updatedAt"
)

// ClaimDelivery claims the delivery jobID for lease. The conditional put of
// pk="delivery#<jobID>" succeeds when there is no record, when the job is
// pending a retry (ReleaseForRetry), when the record's
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
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #state = :pending OR (#state = :claimed AND #lease <= :now) OR #exp <= :now"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#state": attrState, "#lease": attrLeaseUntil, "#exp": attrExpiresAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": str(stateClaimed),
			":pending": str(statePending),
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

// ReleaseForRetry gives up the claim token made on jobID, as
// ReleaseDelivery does, and keeps the record as pending with what
// ListPendingDeliveries lists: pending.Job (the delivery's summary, not
// the event), its last error and its next attempt. It expires with the
// claim's DeliveryTTL, as a claim would.
func (s *Store) ReleaseForRetry(ctx context.Context, jobID, token string, pending store.DeliveryRecord) error {
	pk := deliveryPrefix + jobID
	updated := pending.Updated
	if updated.IsZero() {
		updated = s.now()
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 itemKey(pk, deliverySK),
		UpdateExpression:    aws.String("SET #state = :pending, #entry = :entry, #err = :err, #next = :next, #updated = :updated REMOVE #lease, #owner"),
		ConditionExpression: aws.String("#state = :claimed AND #owner = :token"),
		ExpressionAttributeNames: map[string]string{
			"#state": attrState, "#owner": attrOwner, "#lease": attrLeaseUntil, "#entry": attrEntry,
			"#err": attrLastError, "#next": attrNext, "#updated": attrUpdated,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":claimed": str(stateClaimed),
			":token":   str(token),
			":pending": str(statePending),
			":entry":   str(string(pending.Job)),
			":err":     str(pending.LastError),
			":next":    str(pending.NextAttempt.UTC().Format(time.RFC3339Nano)),
			":updated": str(updated.UTC().Format(time.RFC3339Nano)),
		},
	})
	if _, ok := conditionFailed(err); ok {
		return nil
	}
	if err != nil {
		return opError("UpdateItem", pk, deliverySK, err)
	}
	return nil
}

// ListPendingDeliveries returns the deliveries waiting for a retry, as
// ReleaseForRetry recorded them, oldest update first. It scans the table,
// which is what `herald deliveries` may afford and a function must not do.
func (s *Store) ListPendingDeliveries(ctx context.Context) ([]store.DeliveryRecord, error) {
	in := &dynamodb.ScanInput{
		TableName:                aws.String(s.table),
		FilterExpression:         aws.String("begins_with(#pk, :prefix) AND #state = :pending AND #exp > :now"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#state": attrState, "#exp": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":prefix":  str(deliveryPrefix),
			":pending": str(statePending),
			":now":     num(s.now().Unix()),
		},
	}
	var out []store.DeliveryRecord
	for p := dynamodb.NewScanPaginator(s.client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, opError("Scan", deliveryPrefix+"*", deliverySK, err)
		}
		for _, item := range page.Items {
			rec := store.DeliveryRecord{
				ID:        strings.TrimPrefix(getS(item, attrPK), deliveryPrefix),
				Job:       []byte(getS(item, attrEntry)),
				LastError: getS(item, attrLastError),
			}
			rec.NextAttempt, _ = time.Parse(time.RFC3339Nano, getS(item, attrNext))
			rec.Updated, _ = time.Parse(time.RFC3339Nano, getS(item, attrUpdated))
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b store.DeliveryRecord) int {
		if c := a.Updated.Compare(b.Updated); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}
