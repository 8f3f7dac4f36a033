package dynamo

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/store"
)

const (
	dedupPrefix = "dedup#"
	dedupSK     = "dedup"
)

// Deduper is the de-duplication record shared by every Lambda instance. A
// claim is one conditional put of pk="dedup#<key>" whose expiresAt is the end
// of the window: it succeeds when the key is new or its window has ended.
// On refusal DynamoDB returns the existing item with the failure
// (ReturnValuesOnConditionCheckFailure=ALL_OLD), which gives the reset time
// without another read.
//
// A window starts at the claim that opens it and lasts the store's
// DedupInterval; its end is stored in whole seconds, rounded up.
type Deduper struct {
	s        *Store
	interval time.Duration
}

var _ store.Deduper = (*Deduper)(nil)

// Deduper returns the store's Deduper, with windows of Options.DedupInterval.
func (s *Store) Deduper() *Deduper { return &Deduper{s: s, interval: s.opts.DedupInterval} }

// Claim implements store.Deduper.
func (d *Deduper) Claim(ctx context.Context, key string, now time.Time) (bool, time.Time, error) {
	pk := dedupPrefix + key
	end := ceilUnix(now.Add(d.interval))
	_, err := d.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(d.s.table),
		Item: map[string]types.AttributeValue{
			attrPK:        str(pk),
			attrSK:        str(dedupSK),
			attrExpiresAt: num(end),
		},
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#exp": attrExpiresAt},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err == nil {
		return true, time.Unix(end, 0), nil
	}
	if ccf, ok := conditionFailed(err); ok {
		reset, ok := getN(ccf.Item, attrExpiresAt)
		if !ok {
			// Not expected: the condition only fails on an item with a
			// window end. The new window's end is a safe answer.
			reset = end
		}
		return false, time.Unix(reset, 0), nil
	}
	return false, time.Time{}, opError("PutItem", pk, dedupSK, err)
}

// Forget implements store.Deduper.
func (d *Deduper) Forget(ctx context.Context, key string) error {
	pk := dedupPrefix + key
	_, err := d.s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(d.s.table),
		Key:       itemKey(pk, dedupSK),
	})
	if err != nil {
		return opError("DeleteItem", pk, dedupSK, err)
	}
	return nil
}
