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
	orderPrefix = "order#"
	orderSK     = "order"
	attrAt      = "at"
)

// StatusOrder is store.StatusOrder in the table, shared by every Lambda
// instance: one conditional put of pk="order#<key>" that succeeds unless
// the item holds a later time. Items expire after Options.OrderTTL.
type StatusOrder struct {
	s *Store
}

var _ store.StatusOrder = StatusOrder{}

// StatusOrder returns the store's StatusOrder.
func (s *Store) StatusOrder() StatusOrder { return StatusOrder{s: s} }

// Advance implements store.StatusOrder. Times are kept in nanoseconds.
func (o StatusOrder) Advance(ctx context.Context, key string, at time.Time) (bool, error) {
	pk := orderPrefix + key
	_, err := o.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(o.s.table),
		Item: map[string]types.AttributeValue{
			attrPK:        str(pk),
			attrSK:        str(orderSK),
			attrAt:        num(at.UnixNano()),
			attrExpiresAt: num(ceilUnix(o.s.now().Add(o.s.opts.OrderTTL))),
		},
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #at <= :at"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#at": attrAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":at": num(at.UnixNano())},
	})
	if err == nil {
		return true, nil
	}
	if _, ok := conditionFailed(err); ok {
		return false, nil
	}
	return false, opError("PutItem", pk, orderSK, err)
}
