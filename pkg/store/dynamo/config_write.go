package dynamo

// This file holds the writes of config objects: kubectl apply's
// created/configured/unchanged, and deletion.

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/api"
)

// storedConfig is what a write needs to know of the current item.
type storedConfig struct {
	exists     bool
	doc        string
	generation int64
	digest     string
}

func (s *Store) getConfig(ctx context.Context, sk string) (storedConfig, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(configPK, sk),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return storedConfig{}, opError("GetItem", configPK, sk, err)
	}
	if out.Item == nil {
		return storedConfig{}, nil
	}
	gen, _ := getN(out.Item, attrGeneration)
	return storedConfig{exists: true, doc: getS(out.Item, attrDoc), generation: gen, digest: getS(out.Item, attrDigest)}, nil
}

// PutObject stores a Provider, Alert or Receiver (value or pointer) like
// `kubectl apply`: created when new, configured when its document changed,
// unchanged otherwise, which makes no write. A Receiver keeps the hook
// digest it has; PutReceiver sets one.
func (s *Store) PutObject(ctx context.Context, obj any) (Change, error) {
	o, err := toObject(obj)
	if err != nil {
		return "", err
	}
	return s.put(ctx, o, nil)
}

// PutReceiver stores a Receiver and the hook item of its digest (hex
// sha256(token + name + namespace)) in one transaction, removing the hook
// item of a previous digest. A digest change alone counts as configured.
func (s *Store) PutReceiver(ctx context.Context, r api.Receiver, digest string) (Change, error) {
	if err := checkDigest(digest); err != nil {
		return "", err
	}
	o, err := toObject(r)
	if err != nil {
		return "", err
	}
	return s.put(ctx, o, &digest)
}

func (s *Store) put(ctx context.Context, o object, digest *string) (Change, error) {
	sk := o.sk()
	for range maxWriteAttempts {
		cur, err := s.getConfig(ctx, sk)
		if err != nil {
			return "", err
		}
		newDigest := cur.digest
		if digest != nil {
			newDigest = *digest
		}
		docChanged := !cur.exists || cur.doc != o.doc
		if !docChanged && newDigest == cur.digest {
			return Unchanged, nil
		}
		gen := cur.generation
		if docChanged {
			gen++
		}
		item := map[string]types.AttributeValue{
			attrPK:         str(configPK),
			attrSK:         str(sk),
			attrKind:       str(o.kind),
			attrAPIVersion: str(o.apiVersion),
			attrCluster:    str(clusterAttr(o.ref.Cluster)),
			attrNamespace:  str(o.ref.Namespace),
			attrName:       str(o.ref.Name),
			attrDoc:        str(o.doc),
			attrGeneration: num(gen),
			attrUpdatedAt:  str(s.now().UTC().Format(time.RFC3339)),
		}
		if newDigest != "" {
			item[attrDigest] = str(newDigest)
		}
		cond, names, values := unchangedSince(cur, nil, nil)
		put := &types.Put{
			TableName:                 aws.String(s.table),
			Item:                      item,
			ConditionExpression:       cond,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
		retry := false
		if newDigest == cur.digest {
			_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
				TableName:                 put.TableName,
				Item:                      put.Item,
				ConditionExpression:       put.ConditionExpression,
				ExpressionAttributeNames:  put.ExpressionAttributeNames,
				ExpressionAttributeValues: put.ExpressionAttributeValues,
			})
			if _, ok := conditionFailed(err); ok {
				retry = true
			} else if err != nil {
				return "", opError("PutItem", configPK, sk, err)
			}
		} else {
			retry, err = s.writeWithHooks(ctx, types.TransactWriteItem{Put: put}, o.kind, o.ref, cur.digest, newDigest)
			if err != nil {
				return "", err
			}
		}
		if retry {
			continue
		}
		if !cur.exists {
			return Created, nil
		}
		return Configured, nil
	}
	return "", opError("PutItem", configPK, sk, ErrConflict)
}

// unchangedSince is the condition that the config item is as cur saw it,
// with the names and values it uses. extraNames and extraValues are merged
// in for the other expressions of the same request.
func unchangedSince(cur storedConfig, extraNames map[string]string, extraValues map[string]types.AttributeValue) (*string, map[string]string, map[string]types.AttributeValue) {
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	var cond string
	switch {
	case !cur.exists:
		cond = "attribute_not_exists(#pk)"
		names["#pk"] = attrPK
	case cur.digest == "":
		cond = "#generation = :generation AND attribute_not_exists(#digest)"
		names["#generation"], names["#digest"] = attrGeneration, attrDigest
		values[":generation"] = num(cur.generation)
	default:
		cond = "#generation = :generation AND #digest = :oldDigest"
		names["#generation"], names["#digest"] = attrGeneration, attrDigest
		values[":generation"] = num(cur.generation)
		values[":oldDigest"] = str(cur.digest)
	}
	for k, v := range extraNames {
		names[k] = v
	}
	for k, v := range extraValues {
		values[k] = v
	}
	if len(values) == 0 {
		values = nil
	}
	return aws.String(cond), names, values
}

// DeleteObject removes a config object, and a Receiver's hook item with it.
// It reports whether the object existed. cluster "" names an object without
// the herald.io/cluster label.
func (s *Store) DeleteObject(ctx context.Context, kind, cluster, namespace, name string) (bool, error) {
	switch kind {
	case api.KindProvider, api.KindAlert, api.KindReceiver:
	default:
		return false, fmt.Errorf("cannot delete a %q: only Provider, Alert and Receiver are stored", kind)
	}
	ref := Ref{Cluster: cluster, Namespace: namespace, Name: name}
	if err := checkRef(kind, ref); err != nil {
		return false, err
	}
	sk := configSK(kind, ref)
	for range maxWriteAttempts {
		cur, err := s.getConfig(ctx, sk)
		if err != nil {
			return false, err
		}
		if !cur.exists {
			return false, nil
		}
		cond, names, values := unchangedSince(cur, nil, nil)
		del := &types.Delete{
			TableName:                 aws.String(s.table),
			Key:                       itemKey(configPK, sk),
			ConditionExpression:       cond,
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		}
		if cur.digest == "" {
			_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
				TableName:                 del.TableName,
				Key:                       del.Key,
				ConditionExpression:       del.ConditionExpression,
				ExpressionAttributeNames:  del.ExpressionAttributeNames,
				ExpressionAttributeValues: del.ExpressionAttributeValues,
			})
			if _, ok := conditionFailed(err); ok {
				continue
			}
			if err != nil {
				return false, opError("DeleteItem", configPK, sk, err)
			}
			return true, nil
		}
		retry, err := s.writeWithHooks(ctx, types.TransactWriteItem{Delete: del}, kind, ref, cur.digest, "")
		if err != nil {
			return false, err
		}
		if !retry {
			return true, nil
		}
	}
	return false, opError("DeleteItem", configPK, sk, ErrConflict)
}
