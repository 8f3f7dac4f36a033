package sqsqueue_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/internal/dynamotest"
	"github.com/heraldhq/herald/internal/sqstest"
	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/generic"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

// The idempotency records live in the official DynamoDB Local, one table
// per test, and the queues in the goaws SQS emulator (sqstest), fresh per
// test. goaws' state is global: no test here may call t.Parallel.
func TestMain(m *testing.M) { dynamotest.Main(m) }

// secretPath is in the address of the "leaky" provider, which answers 400:
// the webhook path is the secret, and must not reach the DLQ.
const secretPath = "/hooks/T0-SECRET-PATH-abc123"

// env is a delivery queue, its DLQ, a Handler delivering to a real generic
// notifier per provider name, and the HTTP server those post to.
type env struct {
	sqs      *sqstest.SQS
	queueURL string
	dlqURL   string
	store    *dynamo.Store
	db       *dynamodb.Client
	sink     *notifytest.Sink
	handler  *sqsqueue.Handler
	now      time.Time
	logs     *testlog.Buffer
	// handled is when the last handle call started and ended, by the
	// real clock, which goaws' visibility timeouts follow.
	handled [2]time.Time
}

// Providers by name: how the provider's server answers.
//
//	ok       200
//	busy     503
//	throttle 429 with Retry-After: 7
//	bad      400
//	leaky    400, at secretPath
//	slow     200 once slowGate has seen its bound in flight at once
func newEnv(t *testing.T) *env {
	t.Helper()
	// The clock stands still at the start of the test, so that the lease
	// derived from the invocation's deadline is exact.
	e := &env{now: time.Now().Truncate(time.Second), logs: &testlog.Buffer{}}
	e.sqs = sqstest.New(t)
	e.dlqURL = e.sqs.Queue("herald-deliveries-dlq")
	// As deploy/template.yaml makes it, with FunctionTimeout 30.
	e.queueURL = e.sqs.CreateQueue("herald-deliveries", map[string]string{
		"VisibilityTimeout": strconv.Itoa(queueVisibility),
		"RedrivePolicy":     sqstest.RedrivePolicy(e.dlqURL, sqsqueue.MaxReceiveCount(delivery.DefaultMaxAge)),
	})

	srv := dynamotest.Shared(t)
	client := srv.Client()
	table := dynamotest.TableName(t)
	if err := dynamo.CreateTable(context.Background(), client, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	e.db = client
	e.store = dynamo.New(client, table, dynamo.Options{Now: func() time.Time { return e.now }})

	e.sink = notifytest.NewSink(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/throttle":
			w.Header().Set("Retry-After", "7")
			http.Error(w, "slow down", http.StatusTooManyRequests)
		case "/bad", secretPath:
			http.Error(w, "invalid payload", http.StatusBadRequest)
		case "/slow":
			slowGate.Load().pass()
		}
	})

	// Notifiers are built once, as in the Lambda.
	targets := map[string]delivery.Target{}
	for name, path := range map[string]string{"ok": "/ok", "busy": "/busy", "throttle": "/throttle", "bad": "/bad", "leaky": secretPath, "slow": "/slow"} {
		p := api.Provider{
			TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1beta3", Kind: api.KindProvider},
			Metadata: api.ObjectMeta{Namespace: "flux-system", Name: name},
			Spec:     api.ProviderSpec{Type: "generic", Address: e.sink.URL + path},
		}
		cfg, err := notify.Resolve(p, nil)
		if err != nil {
			t.Fatal(err)
		}
		n, err := generic.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		targets[name] = delivery.Target{Notifier: n, Timeout: 5 * time.Second}
	}
	e.handler = &sqsqueue.Handler{
		Deliverer: &delivery.Deliverer{
			Targets: func(ref delivery.ProviderRef) (delivery.Target, error) {
				if t, ok := targets[ref.Name]; ok {
					return t, nil
				}
				return delivery.Target{}, delivery.ErrProviderMissing
			},
			Metrics: metrics.Nop{},
			Logger:  slog.New(slog.NewJSONHandler(e.logs, nil)),
			Now:     func() time.Time { return e.now },
		},
		Idempotency: e.store,
		Client:      e.sqs.Client(),
		QueueURL:    e.queueURL,
		DLQURL:      e.dlqURL,
		Logger:      slog.New(slog.NewJSONHandler(e.logs, nil)),
		Now:         func() time.Time { return e.now },
	}
	return e
}

// slowGate holds each request to /slow until bound requests are in flight
// at once, so a test proves concurrency by counting, not by timing. If
// the bound is never reached, requests give up after a while and the gate
// records that it timed out.
var slowGate atomic.Pointer[gate]

type gate struct {
	bound       int32
	inFlight    atomic.Int32
	max         atomic.Int32
	timedOut    atomic.Bool
	open        chan struct{}
	openOnce    sync.Once
	giveUpAfter time.Duration
}

func newGate(bound int32) *gate {
	return &gate{bound: bound, open: make(chan struct{}), giveUpAfter: 5 * time.Second}
}

func (g *gate) pass() {
	n := g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			break
		}
	}
	if n >= g.bound {
		g.openOnce.Do(func() { close(g.open) })
	}
	select {
	case <-g.open:
	case <-time.After(g.giveUpAfter):
		g.timedOut.Store(true)
	}
}

func init() { slowGate.Store(newGate(1)) }

func job(id, provider string) delivery.Job {
	return delivery.Job{
		ID:           id,
		Event:        notifytest.ReferenceEvent(event.SeverityInfo, true),
		Provider:     delivery.ProviderRef{Namespace: "flux-system", Name: provider},
		ProviderType: "generic",
		Alert:        "flux-system/all",
	}
}

func body(t *testing.T, j delivery.Job) string {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// queueVisibility is the delivery queue's visibility timeout in seconds,
// deploy/template.yaml's for FunctionTimeout 30.
const queueVisibility = 190

// receive sends body to the delivery queue and receives it, as the Lambda
// service does before it hands the message over, and returns the record
// of its receives-th receive. The service reports the receive count; goaws
// would always say 1.
func (e *env) receive(body string, receives int) events.SQSMessage {
	return e.record(e.sqs.InFlight(e.queueURL, body), receives)
}

// redeliver has SQS hand over the message of rec again, as its
// receives-th receive: the same id, a new receipt handle.
func (e *env) redeliver(rec events.SQSMessage, receives int) events.SQSMessage {
	return e.record(e.sqs.Redeliver(e.queueURL, sqstest.Message{ID: rec.MessageId, ReceiptHandle: rec.ReceiptHandle}), receives)
}

func (e *env) record(m sqstest.Message, receives int) events.SQSMessage {
	return events.SQSMessage{
		MessageId:      m.ID,
		ReceiptHandle:  m.ReceiptHandle,
		Body:           m.Body,
		Attributes:     map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)},
		EventSource:    "aws:sqs",
		EventSourceARN: "arn:aws:sqs:us-east-1:000000000000:herald-deliveries",
		AWSRegion:      "us-east-1",
	}
}

// wantHiddenFor checks that goaws holds the message msgID in the delivery
// queue in flight until d after the last handle call: the visibility
// timeout the handler set, as SQS keeps it.
func (e *env) wantHiddenFor(t *testing.T, msgID string, d time.Duration) {
	t.Helper()
	wantHiddenFor(t, e.sqs, e.queueURL, msgID, d, e.handled)
}

// wantHiddenFor checks that the message msgID of queueURL is in flight
// until d after a request made between during[0] and during[1] (a receive
// or a visibility change).
func wantHiddenFor(t *testing.T, s *sqstest.SQS, queueURL, msgID string, d time.Duration, during [2]time.Time) {
	t.Helper()
	for _, m := range s.Messages(queueURL) {
		if m.ID != msgID {
			continue
		}
		if from, to := during[0].Add(d), during[1].Add(d); !m.InFlight() || m.VisibleAt.Before(from) || m.VisibleAt.After(to) {
			t.Fatalf("message %s: in flight %v, visible at %s; want hidden until %v after the request (%s to %s)",
				msgID, m.InFlight(), m.VisibleAt.Format(time.StampMilli), d, from.Format(time.StampMilli), to.Format(time.StampMilli))
		}
		return
	}
	t.Fatalf("message %s is not in the queue", msgID)
}

// handle calls the handler directly with a deadline a minute after the
// test's clock.
func (e *env) handle(t *testing.T, records ...events.SQSMessage) events.SQSEventResponse {
	t.Helper()
	ctx, cancel := context.WithDeadline(context.Background(), e.now.Add(time.Minute))
	defer cancel()
	e.handled[0] = time.Now()
	resp, err := e.handler.Handle(ctx, events.SQSEvent{Records: records})
	e.handled[1] = time.Now()
	if err != nil {
		t.Fatalf("Handle returned %v; it must report failures per message", err)
	}
	return resp
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

// posts counts the requests the provider server got at path.
func (e *env) posts(path string) int {
	n := 0
	for _, r := range e.sink.Requests() {
		if r.Method == http.MethodPost && strings.SplitN(r.URI, "?", 2)[0] == path {
			n++
		}
	}
	return n
}
