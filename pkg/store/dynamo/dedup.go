package dynamo

import (
	"context"
	"errors"
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

const (
	replayPrefix = "replay#"
	replaySK     = "replay"
	// claimAttempts bounds the transactions ClaimSigned makes when
	// concurrent writes of the same items cancel its own.
	claimAttempts = 4
)

var _ store.Replays = (*Deduper)(nil)

// ClaimSigned implements store.Deduper in one request: a transaction of
// two conditional puts, the signature's item pk="replay#<cluster>/<hex
// signature>" with expiresAt the request's expiry (refused while one is
// unexpired: a replay), and the window's item as Claim puts it. A replay
// is answered from the first put's failure; when only the window is
// taken (a duplicate), the transaction wrote nothing, and the signature
// is recorded by a put of its own, so that the duplicate cannot be
// replayed once the window ends. An accepted event thus costs one
// request, as before; a duplicate two.
func (d *Deduper) ClaimSigned(ctx context.Context, key string, sig store.Signature, now time.Time) (replayed, ok bool, reset time.Time, err error) {
	pk := dedupPrefix + key
	end := ceilUnix(now.Add(d.interval))
	for attempt := 1; ; attempt++ {
		_, err := d.s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: d.seenPut(sig, now)},
			{Put: &types.Put{
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
			}},
		}})
		if err == nil {
			return false, true, time.Unix(end, 0), nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) || len(tce.CancellationReasons) != 2 {
			return false, false, time.Time{}, opError("TransactWriteItems", pk, dedupSK, err)
		}
		seen, window := tce.CancellationReasons[0], tce.CancellationReasons[1]
		switch {
		case reasonIs(seen, types.BatchStatementErrorCodeEnumConditionalCheckFailed):
			return true, false, time.Time{}, nil
		case reasonIs(seen, types.BatchStatementErrorCodeEnumTransactionConflict),
			reasonIs(window, types.BatchStatementErrorCodeEnumTransactionConflict):
			// A concurrent write of one of the items, most likely the same
			// event's: try again, and the conditions decide.
			if attempt < claimAttempts {
				continue
			}
			return false, false, time.Time{}, opError("TransactWriteItems", pk, dedupSK, ErrConflict)
		case reasonIs(window, types.BatchStatementErrorCodeEnumConditionalCheckFailed):
			reset, ok := getN(window.Item, attrExpiresAt)
			if !ok {
				// An emulator that does not return the item: the new
				// window's end is a safe answer, as in Claim.
				reset = end
			}
			replayed, err := d.Seen(ctx, sig, now)
			if err != nil || replayed {
				return replayed, false, time.Time{}, err
			}
			return false, false, time.Unix(reset, 0), nil
		}
		return false, false, time.Time{}, opError("TransactWriteItems", pk, dedupSK, err)
	}
}

// Seen implements store.Replays with the conditional put of the
// signature's item alone, for signed requests that claim no window (the
// forwarder's polls).
func (d *Deduper) Seen(ctx context.Context, sig store.Signature, now time.Time) (bool, error) {
	put := d.seenPut(sig, now)
	_, err := d.s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                 put.TableName,
		Item:                      put.Item,
		ConditionExpression:       put.ConditionExpression,
		ExpressionAttributeNames:  put.ExpressionAttributeNames,
		ExpressionAttributeValues: put.ExpressionAttributeValues,
	})
	if err == nil {
		return false, nil
	}
	if _, ok := conditionFailed(err); ok {
		return true, nil
	}
	return false, opError("PutItem", replayPrefix+sig.Key, replaySK, err)
}

// seenPut is the conditional put that records sig: it fails while an
// unexpired record of it exists. The record expires (and DynamoDB's TTL
// deletes it) once the request is too old to be accepted anyway.
func (d *Deduper) seenPut(sig store.Signature, now time.Time) *types.Put {
	return &types.Put{
		TableName: aws.String(d.s.table),
		Item: map[string]types.AttributeValue{
			attrPK:        str(replayPrefix + sig.Key),
			attrSK:        str(replaySK),
			attrExpiresAt: num(ceilUnix(sig.Expires)),
		},
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #exp <= :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#exp": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
	}
}

func reasonIs(r types.CancellationReason, code types.BatchStatementErrorCodeEnum) bool {
	return r.Code != nil && *r.Code == string(code)
}
