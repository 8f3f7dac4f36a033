package dynamo

// This file holds the hook items: the Receivers' webhook digests, written
// in the same transaction as the Receiver so a digest never points at a
// Receiver that does not have it.

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/api"
)

// PutReceiverDigest points the hook item of digest at the stored Receiver
// ref, as PutReceiver does without changing the Receiver's document. It
// fails with ErrNotFound when the Receiver is not stored.
func (s *Store) PutReceiverDigest(ctx context.Context, digest string, ref Ref) error {
	if err := checkDigest(digest); err != nil {
		return err
	}
	if err := checkRef(api.KindReceiver, ref); err != nil {
		return err
	}
	sk := configSK(api.KindReceiver, ref)
	for range maxWriteAttempts {
		cur, err := s.getConfig(ctx, sk)
		if err != nil {
			return err
		}
		if !cur.exists {
			return fmt.Errorf("receiver %s: %w", ref, ErrNotFound)
		}
		if cur.digest == digest {
			return nil
		}
		cond, names, values := unchangedSince(cur,
			map[string]string{"#digest": attrDigest, "#updatedAt": attrUpdatedAt},
			map[string]types.AttributeValue{
				":digest":    str(digest),
				":updatedAt": str(s.now().UTC().Format(time.RFC3339)),
			})
		update := types.TransactWriteItem{Update: &types.Update{
			TableName:                 aws.String(s.table),
			Key:                       itemKey(configPK, sk),
			UpdateExpression:          aws.String("SET #digest = :digest, #updatedAt = :updatedAt"),
			ConditionExpression:       cond,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}}
		retry, err := s.writeWithHooks(ctx, update, api.KindReceiver, ref, cur.digest, digest)
		if err != nil {
			return err
		}
		if !retry {
			return nil
		}
	}
	return opError("TransactWriteItems", configPK, sk, ErrConflict)
}

// pointsAt is the condition that a hook item belongs to the Receiver ref,
// with names #c, #ns, #n and values :c, :ns, :n.
const pointsAt = "#c = :c AND #ns = :ns AND #n = :n"

func pointsAtValues(ref Ref) (map[string]string, map[string]types.AttributeValue) {
	return map[string]string{"#c": attrCluster, "#ns": attrNamespace, "#n": attrName},
		map[string]types.AttributeValue{":c": str(clusterAttr(ref.Cluster)), ":ns": str(ref.Namespace), ":n": str(ref.Name)}
}

// writeWithHooks writes the config item change (first action) together with
// the hook item of newDigest and the removal of the hook item of oldDigest.
// It reports retry when the config item changed since it was read.
func (s *Store) writeWithHooks(ctx context.Context, config types.TransactWriteItem, kind string, ref Ref, oldDigest, newDigest string) (retry bool, err error) {
	sk := configSK(kind, ref)
	actions := []types.TransactWriteItem{config}
	names, values := pointsAtValues(ref)
	hookAt := -1
	if newDigest != "" {
		n, v := pointsAtValues(ref)
		n["#pk"] = attrPK
		hookAt = len(actions)
		actions = append(actions, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.table),
			Item: map[string]types.AttributeValue{
				attrPK:        str(hookPK(newDigest)),
				attrSK:        str(hookSK),
				attrCluster:   v[":c"],
				attrNamespace: v[":ns"],
				attrName:      v[":n"],
			},
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR (" + pointsAt + ")"),
			ExpressionAttributeNames:  n,
			ExpressionAttributeValues: v,
		}})
	}
	if oldDigest != "" && oldDigest != newDigest {
		// A hook item that points at another Receiver is not ours to remove.
		mine, err := s.hookPointsAt(ctx, oldDigest, ref)
		if err != nil {
			return false, err
		}
		if mine {
			actions = append(actions, types.TransactWriteItem{Delete: &types.Delete{
				TableName:                 aws.String(s.table),
				Key:                       itemKey(hookPK(oldDigest), hookSK),
				ConditionExpression:       aws.String(pointsAt),
				ExpressionAttributeNames:  names,
				ExpressionAttributeValues: values,
			}})
		}
	}
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: actions})
	if err == nil {
		return false, nil
	}
	codes, ok := cancellation(err)
	if !ok {
		return false, opError("TransactWriteItems", configPK, sk, err)
	}
	for i, code := range codes {
		switch {
		case code == string(types.BatchStatementErrorCodeEnumTransactionConflict):
			return true, nil
		case code == string(types.BatchStatementErrorCodeEnumConditionalCheckFailed) && i == hookAt:
			return false, fmt.Errorf("receiver %s: hook %s: %w", ref, shortDigest(newDigest), ErrDigestInUse)
		case code == string(types.BatchStatementErrorCodeEnumConditionalCheckFailed):
			// The config item, or the old hook item, changed since it was
			// read: read again.
			return true, nil
		}
	}
	return false, opError("TransactWriteItems", configPK, sk, err)
}

func (s *Store) hookPointsAt(ctx context.Context, digest string, ref Ref) (bool, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(hookPK(digest), hookSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return false, opError("GetItem", hookPK(shortDigest(digest)), hookSK, err)
	}
	return out.Item != nil &&
		getS(out.Item, attrCluster) == clusterAttr(ref.Cluster) &&
		getS(out.Item, attrNamespace) == ref.Namespace &&
		getS(out.Item, attrName) == ref.Name, nil
}

// ReceiverByDigest finds the Receiver whose webhook path is /hook/<digest>.
// It costs two reads: the hook item, then the Receiver it points at. A hook
// item whose Receiver is gone or has another digest is not a match.
func (s *Store) ReceiverByDigest(ctx context.Context, digest string) (api.Receiver, bool, error) {
	if checkDigest(digest) != nil {
		return api.Receiver{}, false, nil
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(hookPK(digest), hookSK),
	})
	if err != nil {
		return api.Receiver{}, false, opError("GetItem", hookPK(shortDigest(digest)), hookSK, err)
	}
	if out.Item == nil {
		return api.Receiver{}, false, nil
	}
	ref := Ref{
		Cluster:   clusterOf(getS(out.Item, attrCluster)),
		Namespace: getS(out.Item, attrNamespace),
		Name:      getS(out.Item, attrName),
	}
	sk := configSK(api.KindReceiver, ref)
	out, err = s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table),
		Key:       itemKey(configPK, sk),
	})
	if err != nil {
		return api.Receiver{}, false, opError("GetItem", configPK, sk, err)
	}
	if out.Item == nil || getS(out.Item, attrDigest) != digest {
		return api.Receiver{}, false, nil
	}
	obj, err := s.decode(out.Item)
	if err != nil {
		return api.Receiver{}, false, err
	}
	r, ok := obj.Value.(api.Receiver)
	if !ok {
		return api.Receiver{}, false, fmt.Errorf("item pk=%q sk=%q holds a %s", configPK, sk, obj.Kind)
	}
	return r, true, nil
}
