package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

const (
	reconcilePrefix = "reconcile#"
	attrRequestedAt = "requestedAt"
	attrReceiver    = "receiver"

	// reconcilePage is the most requests ListReconcileRequests returns.
	reconcilePage = 100
	// batchWriteMax is BatchWriteItem's limit of items per request.
	batchWriteMax = 25
)

// ReconcileRequest asks the forwarder of a cluster to annotate a Flux object
// with reconcile.fluxcd.io/requestedAt, as a Receiver does in Flux.
type ReconcileRequest struct {
	// ID is the request's sort key, "<unix nanos, 20 digits>#<kind>#<namespace>#<name>":
	// requests sort by the time they were made. PutReconcileRequest sets it.
	ID         string
	APIVersion string
	Kind       string
	Namespace  string
	Name       string
	// Receiver is the namespace/name of the Receiver that made the request.
	Receiver string
	// RequestedAt is when the webhook arrived, the annotation's value.
	RequestedAt time.Time
	ExpiresAt   time.Time
}

func reconcilePK(cluster string) string { return reconcilePrefix + cluster }

// PutReconcileRequest records req for the forwarder of cluster. It sets
// req.ID, RequestedAt (when zero) and ExpiresAt (now + ReconcileTTL) and
// returns the stored request.
func (s *Store) PutReconcileRequest(ctx context.Context, cluster string, req ReconcileRequest) (ReconcileRequest, error) {
	if cluster == "" {
		return req, fmt.Errorf("reconcile request for %s/%s/%s: cluster is required", req.Kind, req.Namespace, req.Name)
	}
	if req.Kind == "" || req.Namespace == "" || req.Name == "" {
		return req, fmt.Errorf("reconcile request for cluster %s: kind, namespace and name are required", cluster)
	}
	for _, part := range []string{req.Kind, req.Namespace, req.Name} {
		if strings.Contains(part, "#") {
			return req, fmt.Errorf("reconcile request for cluster %s: %q may not contain #", cluster, part)
		}
	}
	now := s.now()
	if req.RequestedAt.IsZero() {
		req.RequestedAt = now
	}
	req.ID = fmt.Sprintf("%020d#%s#%s#%s", now.UnixNano(), req.Kind, req.Namespace, req.Name)
	req.ExpiresAt = time.Unix(ceilUnix(now.Add(s.opts.ReconcileTTL)), 0)
	pk := reconcilePK(cluster)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			attrPK:          str(pk),
			attrSK:          str(req.ID),
			attrAPIVersion:  str(req.APIVersion),
			attrKind:        str(req.Kind),
			attrNamespace:   str(req.Namespace),
			attrName:        str(req.Name),
			attrRequestedAt: str(req.RequestedAt.UTC().Format(time.RFC3339Nano)),
			attrReceiver:    str(req.Receiver),
			attrExpiresAt:   num(req.ExpiresAt.Unix()),
		},
	})
	if err != nil {
		return req, opError("PutItem", pk, req.ID, err)
	}
	return req, nil
}

// ListReconcileRequests returns the pending, unexpired requests of cluster
// whose ID sorts after after ("" for the first), oldest first, at most 100
// at a time. next is the cursor of the following page, "" when there is
// none.
//
// Acknowledgement is by ID (AckReconcileRequests), not by "everything up to
// a cursor": two receiver Lambdas can write requests whose IDs land out of
// order with respect to a poll, so a request older than the newest one the
// forwarder has seen may still be unseen. Deleting exact IDs never drops it;
// the forwarder polls from "" each time and pages with next.
func (s *Store) ListReconcileRequests(ctx context.Context, cluster, after string) ([]ReconcileRequest, string, error) {
	pk := reconcilePK(cluster)
	now := s.now()
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk"),
		FilterExpression:         aws.String("#exp > :now"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#exp": attrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk":  str(pk),
			":now": num(now.Unix()),
		},
		ConsistentRead: aws.Bool(true),
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk > :after")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":after"] = str(after)
	}
	var reqs []ReconcileRequest
	for {
		// Limit counts the items read before the filter drops the expired
		// ones, so a page can come back short; read on until it is full.
		in.Limit = aws.Int32(int32(reconcilePage - len(reqs)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, "", opError("Query", pk, after, err)
		}
		for _, item := range out.Items {
			if expired(item, now) {
				continue
			}
			reqs = append(reqs, decodeReconcile(item))
		}
		if out.LastEvaluatedKey == nil {
			return reqs, "", nil
		}
		if len(reqs) >= reconcilePage {
			return reqs, getS(out.LastEvaluatedKey, attrSK), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func decodeReconcile(item map[string]types.AttributeValue) ReconcileRequest {
	requested, _ := time.Parse(time.RFC3339Nano, getS(item, attrRequestedAt))
	exp, _ := getN(item, attrExpiresAt)
	return ReconcileRequest{
		ID:          getS(item, attrSK),
		APIVersion:  getS(item, attrAPIVersion),
		Kind:        getS(item, attrKind),
		Namespace:   getS(item, attrNamespace),
		Name:        getS(item, attrName),
		Receiver:    getS(item, attrReceiver),
		RequestedAt: requested,
		ExpiresAt:   time.Unix(exp, 0),
	}
}

// AckReconcileRequests deletes the requests of cluster with these IDs, once
// the forwarder has annotated their objects. Unknown IDs are ignored.
func (s *Store) AckReconcileRequests(ctx context.Context, cluster string, ids ...string) error {
	pk := reconcilePK(cluster)
	for len(ids) > 0 {
		n := min(len(ids), batchWriteMax)
		batch := make([]types.WriteRequest, 0, n)
		seen := make(map[string]bool, n)
		for _, id := range ids[:n] {
			if seen[id] { // BatchWriteItem refuses duplicate keys
				continue
			}
			seen[id] = true
			batch = append(batch, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: itemKey(pk, id)}})
		}
		ids = ids[n:]
		pending := map[string][]types.WriteRequest{s.table: batch}
		for attempt := 0; len(pending[s.table]) > 0; attempt++ {
			if attempt > 0 {
				// Unprocessed items mean throttling: back off a little.
				select {
				case <-ctx.Done():
					return opError("BatchWriteItem", pk, "", ctx.Err())
				case <-time.After(time.Duration(1<<min(attempt, 6)) * 10 * time.Millisecond):
				}
			}
			if attempt >= 10 {
				return opError("BatchWriteItem", pk, "", fmt.Errorf("%d deletes left unprocessed", len(pending[s.table])))
			}
			out, err := s.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: pending})
			if err != nil {
				return opError("BatchWriteItem", pk, "", err)
			}
			pending = out.UnprocessedItems
		}
	}
	return nil
}
