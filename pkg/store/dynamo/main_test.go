package dynamo

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/internal/dynamotest"
	"github.com/heraldhq/herald/pkg/api"
)

// One DynamoDB Local serves the whole test binary; each test has its own
// table.
func TestMain(m *testing.M) { dynamotest.Main(m) }

type testEnv struct {
	client  *dynamodb.Client
	raw     *dynamodb.Client // not counted
	counter *dynamotest.Counter
	table   string
	clock   *fakeClock
	store   *Store
}

// newEnv creates a table for tb and a Store on it whose clock is a fake
// one, unless opts has a clock. The counter starts at zero once the table
// exists.
func newEnv(tb testing.TB, opts Options) *testEnv {
	tb.Helper()
	srv := dynamotest.Shared(tb)
	counter := dynamotest.NewCounter()
	client := srv.Client(counter.Option())
	table := dynamotest.TableName(tb)
	if err := CreateTable(context.Background(), client, table); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// Free DynamoDB Local's memory for the tests that follow.
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	clock := &fakeClock{t: testEpoch}
	if opts.Now == nil {
		opts.Now = clock.Now
	}
	counter.Reset()
	return &testEnv{client: client, raw: srv.Client(), counter: counter, table: table, clock: clock, store: New(client, table, opts)}
}

// rawItem reads an item as it is in the table, expired or not, with a
// client the counter does not see.
func (e *testEnv) rawItem(tb testing.TB, pk, sk string) map[string]types.AttributeValue {
	tb.Helper()
	out, err := e.raw.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(e.table), Key: itemKey(pk, sk), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out.Item
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const (
	v1beta3 = api.NotificationGroup + "/v1beta3"
	v1      = api.NotificationGroup + "/v1"
)

func meta(cluster, namespace, name string) api.ObjectMeta {
	m := api.ObjectMeta{Namespace: namespace, Name: name}
	if cluster != "" {
		m.Labels = map[string]string{api.ClusterLabel: cluster}
	}
	return m
}

func testProvider(cluster, namespace, name string) api.Provider {
	return api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: v1beta3, Kind: api.KindProvider},
		Metadata: meta(cluster, namespace, name),
		Spec: api.ProviderSpec{
			Type:      "slack",
			Channel:   "general",
			SecretRef: &api.LocalObjectReference{Name: "slack-url"},
		},
	}
}

func testAlert(cluster, namespace, name, provider string) api.Alert {
	return api.Alert{
		TypeMeta: api.TypeMeta{APIVersion: v1beta3, Kind: api.KindAlert},
		Metadata: meta(cluster, namespace, name),
		Spec: api.AlertSpec{
			ProviderRef:   api.LocalObjectReference{Name: provider},
			EventSeverity: "info",
			EventSources: []api.CrossNamespaceObjectReference{
				{Kind: "Kustomization", Name: "*"},
			},
		},
	}
}

func testReceiver(cluster, namespace, name string) api.Receiver {
	return api.Receiver{
		TypeMeta: api.TypeMeta{APIVersion: v1, Kind: api.KindReceiver},
		Metadata: meta(cluster, namespace, name),
		Spec: api.ReceiverSpec{
			Type:      "github",
			Events:    []string{"ping", "push"},
			SecretRef: &api.LocalObjectReference{Name: "webhook-token"},
			Resources: []api.ReceiverResource{
				{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "podinfo"}},
			},
		},
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testEpoch is the tests' start time: a whole hour a day ahead of the real
// clock. DynamoDB Local really deletes items whose expiresAt has passed on
// the real clock, so a fixed date would make the tests fail once the day
// moves past it.
var testEpoch = time.Now().UTC().Truncate(time.Hour).Add(24 * time.Hour)
