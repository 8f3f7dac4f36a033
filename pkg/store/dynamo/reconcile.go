package dynamo

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
)

var _ store.ReconcileRequests = (*Store)(nil)

const (
	reconcilePrefix  = "reconcile#"
	attrRequestedAt  = "requestedAt"
	attrReceiver     = "receiver"
	attrMatchLabels  = "matchLabels"
	attrFilter       = "filter"
	reconcileIDWidth = 20

	// batchWriteMax is BatchWriteItem's limit of items per request.
	batchWriteMax = 25
)

func reconcilePK(cluster string) string { return reconcilePrefix + cluster }

func reconcileSK(id string, r receiver.ReconcileRequest) string {
	return id + "#" + r.Kind + "#" + r.Namespace + "#" + r.Name
}

// PutReconcileRequests records reqs for the forwarder of cluster (or
// store.AllClusters, "*"), assigning their IDs in reqs, with expiresAt
// ReconcileTTL from now. A zero RequestedAt is set to now.
//
// Requests live in the partition pk="reconcile#<cluster>" (the
// cluster "*" holds those of Receivers for every cluster) under
// sk="<unix nanos, 20 digits>#<kind>#<namespace>#<name>", written with the
// store's clock, so a partition reads in the order requests were recorded.
//
// A request's ID, the poll cursor, is the 20-digit time part of its sort
// key: digits only, as the poll handler requires. The requests of one call
// get consecutive nanoseconds, so their IDs differ; two receiver Lambdas
// writing in the same nanosecond would share an ID, which only matters if a
// page ends between the two.
//
// Requests are not deleted when read: the forwarder moves its cursor on,
// and the items leave with their TTL (Options.ReconcileTTL, default 1h).
// AckReconcileRequests deletes requests early for a caller that wants to.
//
// A cursor cannot see a request that a slower writer records with an
// earlier time after a poll has moved past it; writes take milliseconds and
// the forwarder polls every few seconds, so this needs two webhooks for one
// cluster within one write's latency of a poll.
func (s *Store) PutReconcileRequests(ctx context.Context, cluster string, reqs []receiver.ReconcileRequest) error {
	if cluster == "" {
		return fmt.Errorf("recording %d reconcile requests: cluster is required", len(reqs))
	}
	now := s.now()
	expires := num(ceilUnix(now.Add(s.opts.ReconcileTTL)))
	pk := reconcilePK(cluster)
	writes := make([]types.WriteRequest, 0, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		if r.Kind == "" || r.Namespace == "" || r.Name == "" {
			return fmt.Errorf("reconcile request %d for cluster %s: kind, namespace and name are required", i, cluster)
		}
		for _, part := range []string{r.Kind, r.Namespace, r.Name} {
			if strings.Contains(part, "#") {
				return fmt.Errorf("reconcile request %d for cluster %s: %q may not contain #", i, cluster, part)
			}
		}
		if r.RequestedAt.IsZero() {
			r.RequestedAt = now
		}
		r.ID = fmt.Sprintf("%0*d", reconcileIDWidth, now.UnixNano()+int64(i))
		item := map[string]types.AttributeValue{
			attrPK:          str(pk),
			attrSK:          str(reconcileSK(r.ID, *r)),
			attrAPIVersion:  str(r.APIVersion),
			attrKind:        str(r.Kind),
			attrNamespace:   str(r.Namespace),
			attrName:        str(r.Name),
			attrRequestedAt: str(r.RequestedAt.UTC().Format(time.RFC3339Nano)),
			attrReceiver:    str(r.Receiver),
			attrExpiresAt:   expires,
		}
		if len(r.MatchLabels) > 0 {
			labels := make(map[string]types.AttributeValue, len(r.MatchLabels))
			for k, v := range r.MatchLabels {
				labels[k] = str(v)
			}
			item[attrMatchLabels] = &types.AttributeValueMemberM{Value: labels}
		}
		if r.Filter != "" {
			item[attrFilter] = str(r.Filter)
		}
		writes = append(writes, types.WriteRequest{PutRequest: &types.PutRequest{Item: item}})
	}
	return s.batchWrite(ctx, pk, writes)
}

// ListReconcileRequests returns up to limit unexpired requests of cluster
// whose ID sorts after after ("" for the oldest), oldest first. Expired
// items still in the table are skipped.
func (s *Store) ListReconcileRequests(ctx context.Context, cluster, after string, limit int) ([]receiver.ReconcileRequest, error) {
	if limit <= 0 {
		return nil, nil
	}
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
		// Every sort key of ID after begins "after#", and "#" sorts just
		// before "$": this bound skips them all.
		in.KeyConditionExpression = aws.String("#pk = :pk AND #sk > :after")
		in.ExpressionAttributeNames["#sk"] = attrSK
		in.ExpressionAttributeValues[":after"] = str(after + "$")
	}
	var reqs []receiver.ReconcileRequest
	for {
		// Limit counts the items read before the filter drops the expired
		// ones, so a page can come back short: read on until it is full.
		in.Limit = aws.Int32(int32(min(limit-len(reqs), 1000)))
		out, err := s.client.Query(ctx, in)
		if err != nil {
			return nil, opError("Query", pk, after, err)
		}
		for _, item := range out.Items {
			if !expired(item, now) {
				reqs = append(reqs, decodeReconcile(item))
			}
		}
		if out.LastEvaluatedKey == nil || len(reqs) >= limit {
			return reqs, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func decodeReconcile(item map[string]types.AttributeValue) receiver.ReconcileRequest {
	requested, _ := time.Parse(time.RFC3339Nano, getS(item, attrRequestedAt))
	sk := getS(item, attrSK)
	id, _, _ := strings.Cut(sk, "#")
	r := receiver.ReconcileRequest{
		ID:          id,
		APIVersion:  getS(item, attrAPIVersion),
		Kind:        getS(item, attrKind),
		Namespace:   getS(item, attrNamespace),
		Name:        getS(item, attrName),
		Receiver:    getS(item, attrReceiver),
		Filter:      getS(item, attrFilter),
		RequestedAt: requested,
	}
	if m, ok := item[attrMatchLabels].(*types.AttributeValueMemberM); ok && len(m.Value) > 0 {
		r.MatchLabels = make(map[string]string, len(m.Value))
		for k := range m.Value {
			r.MatchLabels[k] = getS(m.Value, k)
		}
	}
	return r
}

// AckReconcileRequests deletes requests of cluster, as listed (by ID, kind,
// namespace and name), before their TTL would. Requests already gone are
// ignored.
func (s *Store) AckReconcileRequests(ctx context.Context, cluster string, reqs ...receiver.ReconcileRequest) error {
	pk := reconcilePK(cluster)
	writes := make([]types.WriteRequest, 0, len(reqs))
	seen := make(map[string]bool, len(reqs))
	for _, r := range reqs {
		sk := reconcileSK(r.ID, r)
		if seen[sk] { // BatchWriteItem refuses a key twice in one call
			continue
		}
		seen[sk] = true
		writes = append(writes, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: itemKey(pk, sk)}})
	}
	return s.batchWrite(ctx, pk, writes)
}

// batchWrite sends writes of partition pk 25 at a time, resending the items
// DynamoDB leaves unprocessed under throttling with a short back-off.
func (s *Store) batchWrite(ctx context.Context, pk string, writes []types.WriteRequest) error {
	for len(writes) > 0 {
		n := min(len(writes), batchWriteMax)
		pending := map[string][]types.WriteRequest{s.table: writes[:n]}
		writes = writes[n:]
		for attempt := 0; len(pending[s.table]) > 0; attempt++ {
			if attempt == 10 {
				return opError("BatchWriteItem", pk, "", fmt.Errorf("%d writes left unprocessed", len(pending[s.table])))
			}
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return opError("BatchWriteItem", pk, "", ctx.Err())
				case <-time.After(time.Duration(10<<attempt) * time.Millisecond):
				}
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
