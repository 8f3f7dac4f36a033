// Package dynamo is Herald's state in one DynamoDB table, laid out as
// docs/aws.md fixes it: the config objects, the Receivers' hook digests,
// de-duplication records, delivery idempotency records and the reconcile
// requests the forwarder polls.
//
// A Store is built once per Lambda execution environment and shared by every
// invocation. Hot paths cost one request each: an event's de-duplication is
// one conditional put, and the config is served from memory by
// config.Cached, which calls LoadConfig at most once per TTL.
//
// Items with a TTL (expiresAt, unix seconds) are ignored on every read once
// expired, since DynamoDB deletes them lazily. Errors name the operation and
// the item's key, never an item's content: config documents are neither
// logged nor put in errors.
package dynamo

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute names of the table.
const (
	attrPK         = "pk"
	attrSK         = "sk"
	attrExpiresAt  = "expiresAt"
	attrKind       = "kind"
	attrAPIVersion = "apiVersion"
	attrCluster    = "cluster"
	attrNamespace  = "namespace"
	attrName       = "name"
	attrDoc        = "doc"
	attrGeneration = "generation"
	attrUpdatedAt  = "updatedAt"
	// attrDigest is kept on a Receiver's config item: the hook digest that
	// points at it, so that deleting the Receiver or changing its token
	// removes the old hook item without knowing the token.
	attrDigest = "digest"
)

// Defaults of Options.
const (
	DefaultDedupInterval = 5 * time.Minute
	DefaultDeliveryTTL   = 24 * time.Hour
	DefaultReconcileTTL  = time.Hour
	DefaultOrderTTL      = 30 * 24 * time.Hour
)

// Options tune a Store. Zero values take the defaults.
type Options struct {
	// DedupInterval is the de-duplication window
	// (HERALD_RATE_LIMIT_INTERVAL). Default 5m.
	DedupInterval time.Duration
	// DeliveryTTL is how long a delivery idempotency record is kept.
	// Default 24h.
	DeliveryTTL time.Duration
	// ReconcileTTL is how long a reconcile request waits for the forwarder.
	// Default 1h.
	ReconcileTTL time.Duration
	// OrderTTL is how long the time of a commit status or comment is kept
	// to refuse older deliveries to it. Default 30 days, longer than any
	// delivery is retried or a dead letter kept (SQS keeps 14 days).
	OrderTTL time.Duration
	// Now is the clock; tests replace it. Default time.Now.
	Now func() time.Time
	// Logger reports config items it skips. Default slog.Default().
	Logger *slog.Logger
}

// Store is Herald's state in one DynamoDB table. It is safe for concurrent
// use.
type Store struct {
	client *dynamodb.Client
	table  string
	opts   Options
}

// New returns a Store of table. It makes no request.
func New(client *dynamodb.Client, table string, opts Options) *Store {
	if opts.DedupInterval <= 0 {
		opts.DedupInterval = DefaultDedupInterval
	}
	if opts.DeliveryTTL <= 0 {
		opts.DeliveryTTL = DefaultDeliveryTTL
	}
	if opts.ReconcileTTL <= 0 {
		opts.ReconcileTTL = DefaultReconcileTTL
	}
	if opts.OrderTTL <= 0 {
		opts.OrderTTL = DefaultOrderTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Store{client: client, table: table, opts: opts}
}

// Table returns the table's name.
func (s *Store) Table() string { return s.table }

func (s *Store) now() time.Time { return s.opts.Now() }

// opError names the failed operation and the item's key.
func opError(op, pk, sk string, err error) error {
	return fmt.Errorf("dynamodb %s pk=%q sk=%q: %w", op, pk, sk, err)
}

// ErrConflict is returned when a write lost to concurrent writes of the same
// item more often than it retries.
var ErrConflict = errors.New("concurrent modification, try again")

func conditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf, true
	}
	return nil, false
}

// cancellation returns the reason codes of a cancelled transaction, one per
// action ("None", "ConditionalCheckFailed", "TransactionConflict", ...).
func cancellation(err error) ([]string, bool) {
	var tce *types.TransactionCanceledException
	if !errors.As(err, &tce) {
		return nil, false
	}
	codes := make([]string, len(tce.CancellationReasons))
	for i, r := range tce.CancellationReasons {
		if r.Code != nil {
			codes[i] = *r.Code
		}
	}
	return codes, true
}

func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) (int64, bool) {
	v, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	// Numbers written by others may carry a fraction; whole seconds suffice.
	if i := strings.IndexByte(v.Value, '.'); i >= 0 {
		n, err := strconv.ParseInt(v.Value[:i], 10, 64)
		return n, err == nil
	}
	n, err := strconv.ParseInt(v.Value, 10, 64)
	return n, err == nil
}

// expired reports whether an item's TTL has passed at now. Items without
// expiresAt never expire.
func expired(item map[string]types.AttributeValue, now time.Time) bool {
	exp, ok := getN(item, attrExpiresAt)
	return ok && exp <= now.Unix()
}

// ceilUnix is t in unix seconds, rounded up, so that a window or lease
// stored in whole seconds is never shorter than asked.
func ceilUnix(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}
