package sqsqueue_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/internal/sqstest"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
)

// TestRedriveGoaws follows deliveries through the Handler against goaws,
// as the dispatch function's SQS trigger sees them: a permanent failure
// goes to the DLQ at once with its reason; a retryable one comes back
// after the back-off, which its visibility timeout holds; past the retry
// horizon it goes to the DLQ with that reason; Replay brings both back,
// with a new horizon, and once the provider answers they are delivered.
func TestRedriveGoaws(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	bad := job("j-bad", "bad")
	bad.Queued = e.now
	e.handle(t, e.receive(body(t, bad), 1))
	dead := e.sqs.Messages(e.dlqURL)
	if len(dead) != 1 || !strings.HasPrefix(dead[0].Attributes[sqsqueue.AttrFailureReason].String(), "permanent failure: ") {
		t.Fatalf("DLQ after a permanent failure: %+v", dead)
	}

	busy := job("j-busy", "busy")
	busy.Queued = e.now
	rec := e.receive(body(t, busy), 1)
	e.handle(t, rec)
	e.wantHiddenFor(t, rec.MessageId, 2*time.Second)

	// An hour later (for the handler's clock), the next retry is past the
	// horizon.
	e.now = e.now.Add(delivery.DefaultMaxAge)
	e.handle(t, e.redeliver(rec, 9))
	dead = e.sqs.Messages(e.dlqURL)
	if len(dead) != 2 || !strings.HasPrefix(dead[1].Attributes[sqsqueue.AttrFailureReason].String(), "max delivery age reached: ") {
		t.Fatalf("DLQ after the horizon: %+v", dead)
	}

	moved, err := sqsqueue.Replay(ctx, e.sqs.Client(), e.dlqURL, e.queueURL, 0)
	if err != nil || moved != 2 {
		t.Fatalf("Replay = %d, %v", moved, err)
	}
	// The providers are fixed: both now post to the one that answers 200.
	targets := e.handler.Deliverer.Targets
	e.handler.Deliverer.Targets = func(ref delivery.ProviderRef) (delivery.Target, error) {
		ref.Name = "ok"
		return targets(ref)
	}
	before := e.posts("/ok")
	// The originals stay in flight: the Lambda service, not the handler,
	// deletes the messages of a batch that succeeded.
	var ids []string
	for _, m := range e.sqs.Messages(e.queueURL) {
		if _, ok := m.Attributes[sqsqueue.AttrReplayed]; ok {
			ids = append(ids, m.ID)
		}
	}
	recs := e.receiveReplayed(t, ids)
	for _, r := range recs {
		if r.MessageAttributes[sqsqueue.AttrReplayed].StringValue == nil {
			t.Fatalf("replayed message %s has no %s", r.MessageId, sqsqueue.AttrReplayed)
		}
	}
	if len(recs) != 2 {
		t.Fatalf("%d replayed messages in the delivery queue, want 2", len(recs))
	}
	if resp := e.handle(t, recs...); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("replayed deliveries failed: %v", failedIDs(resp))
	}
	if got := e.posts("/ok") - before; got != 2 {
		t.Fatalf("%d deliveries after the replay, want 2", got)
	}
	if n := len(e.sqs.Messages(e.dlqURL)); n != 0 {
		t.Fatalf("%d messages in the DLQ after the replay", n)
	}
}

// receiveReplayed receives the replayed messages ids, visible in the
// delivery queue, as the Lambda service hands them over: with their
// message attributes, as a first receive.
func (e *env) receiveReplayed(t *testing.T, ids []string) []events.SQSMessage {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	var recs []events.SQSMessage
	e.sqs.WaitUntil("the replayed messages to be received", func() bool {
		out, err := e.sqs.Client().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if !want[aws.ToString(m.MessageId)] {
				continue
			}
			rec := e.record(sqstest.Message{ID: aws.ToString(m.MessageId), ReceiptHandle: aws.ToString(m.ReceiptHandle), Body: aws.ToString(m.Body)}, 1)
			rec.MessageAttributes = map[string]events.SQSMessageAttribute{}
			for name, a := range m.MessageAttributes {
				rec.MessageAttributes[name] = events.SQSMessageAttribute{DataType: aws.ToString(a.DataType), StringValue: a.StringValue}
			}
			recs = append(recs, rec)
		}
		return len(recs) == len(ids)
	})
	return recs
}
