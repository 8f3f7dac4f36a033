package sqsqueue_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/internal/sqstest"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
)

type replayEnv struct {
	sqs      *sqstest.SQS
	client   *sqs.Client
	queueURL string
	dlqURL   string
}

// newReplayEnv is a delivery queue that dead-letters into its DLQ, as
// deploy/template.yaml makes them.
func newReplayEnv(t *testing.T) *replayEnv {
	s := sqstest.New(t)
	dlq := s.Queue("herald-deliveries-dlq")
	queue := s.CreateQueue("herald-deliveries", map[string]string{
		"VisibilityTimeout": strconv.Itoa(queueVisibility),
		"RedrivePolicy":     sqstest.RedrivePolicy(dlq, sqsqueue.MaxReceiveCount(delivery.DefaultMaxAge)),
	})
	return &replayEnv{sqs: s, client: s.Client(), queueURL: queue, dlqURL: dlq}
}

// deadLetter puts n jobs into the DLQ as Handler does, plus an attribute of
// someone else's, and returns their bodies.
func (r *replayEnv) deadLetter(t *testing.T, n int) []string {
	t.Helper()
	var bodies []string
	for i := range n {
		b := body(t, job(fmt.Sprintf("dead-%02d", i), "bad"))
		_, err := r.client.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl:    aws.String(r.dlqURL),
			MessageBody: aws.String(b),
			MessageAttributes: map[string]types.MessageAttributeValue{
				sqsqueue.AttrFailureReason: {DataType: aws.String("String"), StringValue: aws.String("permanent failure: request failed with status code 400")},
				sqsqueue.AttrProvider:      {DataType: aws.String("String"), StringValue: aws.String("flux-system/bad")},
				"trace":                    {DataType: aws.String("String"), StringValue: aws.String(fmt.Sprint(i))},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	r.sqs.Reset()
	return bodies
}

func TestReplayMovesEverything(t *testing.T) {
	r := newReplayEnv(t)
	bodies := r.deadLetter(t, 23)

	moved, err := sqsqueue.Replay(context.Background(), r.client, r.dlqURL, r.queueURL, 0)
	if err != nil || moved != 23 {
		t.Fatalf("Replay = %d, %v; want 23", moved, err)
	}
	if left := r.sqs.Messages(r.dlqURL); len(left) != 0 {
		t.Fatalf("%d messages left in the DLQ", len(left))
	}
	queued := r.sqs.Messages(r.queueURL)
	if got := r.sqs.Bodies(r.queueURL); !slices.Equal(got, bodies) {
		t.Fatalf("queue holds %d bodies, not the dead-lettered ones unchanged", len(got))
	}
	for _, m := range queued {
		if m.InFlight() {
			t.Fatal("a replayed message is in flight; the dispatch Lambda would not get it")
		}
		if _, ok := m.Attributes[sqsqueue.AttrFailureReason]; ok {
			t.Fatal("the failure reason was sent back")
		}
		if _, ok := m.Attributes[sqsqueue.AttrProvider]; ok {
			t.Fatal("the provider attribute was sent back")
		}
		if m.Attributes["trace"].String() == "" {
			t.Fatal("another attribute was dropped")
		}
	}

	for _, c := range r.sqs.CallsOf("ReceiveMessage") {
		// The SDK leaves a zero WaitTimeSeconds out: a short poll.
		if c.QueueURL != r.dlqURL || aws.ToInt32(c.WaitTimeSeconds) != 0 || aws.ToInt32(c.MaxNumberOfMessages) != 10 {
			t.Fatalf("ReceiveMessage %s wait %v max %v", c.QueueURL, c.WaitTimeSeconds, c.MaxNumberOfMessages)
		}
		if !slices.Equal(c.MessageAttributeNames, []string{"All"}) {
			t.Fatalf("ReceiveMessage asks for attributes %v", c.MessageAttributeNames)
		}
	}
	// Every delete follows the send of the same bodies.
	sent := map[string]bool{}
	var lastSend int
	for i, c := range r.sqs.Calls() {
		switch c.Op {
		case "SendMessageBatch":
			lastSend = i
			for _, e := range c.Entries {
				sent[e.Body] = true
			}
		case "DeleteMessageBatch":
			if i < lastSend {
				t.Fatalf("call %d deletes before the send of call %d", i, lastSend)
			}
			if c.QueueURL != r.dlqURL || len(c.Entries) == 0 {
				t.Fatalf("delete %+v", c)
			}
		}
	}
	if len(sent) != 23 {
		t.Fatalf("%d distinct bodies sent", len(sent))
	}
}

func TestReplayStopsAtMax(t *testing.T) {
	r := newReplayEnv(t)
	bodies := r.deadLetter(t, 25)
	moved, err := sqsqueue.Replay(context.Background(), r.client, r.dlqURL, r.queueURL, 12)
	if err != nil || moved != 12 {
		t.Fatalf("Replay = %d, %v; want 12", moved, err)
	}
	var asked []int32
	for _, c := range r.sqs.CallsOf("ReceiveMessage") {
		asked = append(asked, *c.MaxNumberOfMessages)
	}
	if !slices.Equal(asked, []int32{10, 2}) {
		t.Fatalf("asked for %v messages, want [10 2]", asked)
	}
	if got := r.sqs.Bodies(r.queueURL); !slices.Equal(got, bodies[:12]) {
		t.Fatalf("queue holds %d messages, want the first 12", len(got))
	}
	if got := r.sqs.Bodies(r.dlqURL); !slices.Equal(got, bodies[12:]) {
		t.Fatalf("DLQ holds %d, want the last 13", len(got))
	}
	for _, m := range r.sqs.Messages(r.dlqURL) {
		if m.InFlight() {
			t.Fatal("a message Replay did not receive is in flight in the DLQ")
		}
	}
}

// A message whose send fails stays in the DLQ; the others move.
func TestReplayDeletesOnlyAfterTheSend(t *testing.T) {
	r := newReplayEnv(t)
	bodies := r.deadLetter(t, 4)
	r.sqs.FailEntries(func(op, _ string, e sqstest.Entry) bool {
		return op == "SendMessageBatch" && e.Body == bodies[2]
	})
	moved, err := sqsqueue.Replay(context.Background(), r.client, r.dlqURL, r.queueURL, 0)
	if err == nil || !strings.Contains(err.Error(), "1 of 4 messages were not sent") {
		t.Fatalf("err = %v", err)
	}
	if moved != 3 {
		t.Fatalf("moved %d, want 3", moved)
	}
	left := r.sqs.Messages(r.dlqURL)
	if len(left) != 1 || left[0].Body != bodies[2] {
		t.Fatalf("DLQ holds %d messages, want only the unsent one", len(left))
	}
	if left[0].InFlight() {
		t.Fatal("the unsent message was not made visible again in the DLQ")
	}
	if got := r.sqs.Bodies(r.queueURL); !slices.Equal(got, []string{bodies[0], bodies[1], bodies[3]}) {
		t.Fatalf("queue holds %d messages, want the 3 sent", len(got))
	}
	deletes := r.sqs.CallsOf("DeleteMessageBatch")
	if len(deletes) != 1 || len(deletes[0].Entries) != 3 {
		t.Fatalf("deletes %+v, want one of the 3 sent", deletes)
	}
	if strings.Contains(err.Error(), "dead-02") {
		t.Fatal("the error quotes a body")
	}
}

func TestReplayEmptyDLQ(t *testing.T) {
	r := newReplayEnv(t)
	moved, err := sqsqueue.Replay(context.Background(), r.client, r.dlqURL, r.queueURL, 0)
	if err != nil || moved != 0 {
		t.Fatalf("Replay = %d, %v", moved, err)
	}
	// A short poll can miss messages, so emptiness is asked a few times.
	if n := len(r.sqs.CallsOf("ReceiveMessage")); n != 3 {
		t.Fatalf("%d receives, want 3", n)
	}
	if n := len(r.sqs.Calls()); n != 3 {
		t.Fatalf("%d calls, want only the receives", n)
	}
}

// A job that is back in the DLQ after being moved in this run failed
// again; Replay stops rather than cycling it.
func TestReplayStopsWhenAJobComesBack(t *testing.T) {
	r := newReplayEnv(t)
	bodies := r.deadLetter(t, 1)
	if _, err := r.client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(r.dlqURL), MessageBody: aws.String(bodies[0])}); err != nil {
		t.Fatal(err)
	}
	moved, err := sqsqueue.Replay(context.Background(), r.client, r.dlqURL, r.queueURL, 0)
	if err != nil || moved != 1 {
		t.Fatalf("Replay = %d, %v; want 1", moved, err)
	}
	left := r.sqs.Messages(r.dlqURL)
	if len(left) != 1 || left[0].Body != bodies[0] || left[0].InFlight() {
		t.Fatalf("DLQ holds %+v, want the repeated job left there, visible", left)
	}
	vis := r.sqs.CallsOf("ChangeMessageVisibility")
	if len(vis) != 1 || *vis[0].VisibilityTimeout != 0 {
		t.Fatalf("the job left behind was not made visible again: %+v", vis)
	}
}

// A job whose message is received maxReceiveCount times and never deleted
// (every attempt ran out of time, say) is moved to the DLQ by SQS itself,
// not by Handler; Replay brings it back. goaws' periodic task ends the
// visibility timeouts and moves the message: the test waits for it.
func TestRedriveToTheDLQThenReplay(t *testing.T) {
	ctx := context.Background()
	s := sqstest.New(t)
	client := s.Client()
	dlq := s.Queue("herald-deliveries-dlq")
	const maxReceives = 3
	queue := s.CreateQueue("herald-deliveries", map[string]string{
		"VisibilityTimeout": "1",
		"RedrivePolicy":     sqstest.RedrivePolicy(dlq, maxReceives),
	})
	if err := sqsqueue.New(client, queue).Enqueue(ctx, job("j-redriven", "busy")); err != nil {
		t.Fatal(err)
	}
	sent := s.CallsOf("SendMessageBatch")[0].Entries[0].Body

	var id string
	for i := 1; i <= maxReceives; i++ {
		var got []types.Message
		s.WaitUntil(fmt.Sprintf("receive %d of the job", i), func() bool {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10})
			if err != nil {
				t.Fatal(err)
			}
			got = out.Messages
			return len(got) > 0
		})
		if len(got) != 1 || aws.ToString(got[0].Body) != sent || (id != "" && aws.ToString(got[0].MessageId) != id) {
			t.Fatalf("receive %d: %d messages, want the job's message once more", i, len(got))
		}
		// Not deleted: SQS counts the receive, and after the
		// visibility timeout of 1 s hands the message over again, until
		// the last receive.
		id = aws.ToString(got[0].MessageId)
	}

	s.WaitUntil("SQS to move the job to the DLQ", func() bool { return len(s.Messages(dlq)) == 1 })
	if n := len(s.Messages(queue)); n != 0 {
		t.Fatalf("the delivery queue still holds %d messages", n)
	}
	dead := s.Messages(dlq)[0]
	if dead.ID != id || dead.Body != sent || dead.InFlight() || len(dead.Attributes) != 0 {
		t.Fatalf("the DLQ holds %+v, want message %s as it was sent", dead, id)
	}
	if n := len(s.CallsOf("SendMessage")); n != 0 {
		t.Fatalf("%d SendMessage calls; the move was SQS's", n)
	}

	before := time.Now()
	moved, err := sqsqueue.Replay(ctx, client, dlq, queue, 0)
	if err != nil || moved != 1 {
		t.Fatalf("Replay = %d, %v; want 1", moved, err)
	}
	if got := s.Bodies(queue); !slices.Equal(got, []string{sent}) || len(s.Messages(dlq)) != 0 {
		t.Fatalf("after Replay the queue holds %d messages and the DLQ %d; want the job back in the queue", len(got), len(s.Messages(dlq)))
	}
	// Its retry horizon starts again.
	replayed, err := time.Parse(time.RFC3339Nano, s.Messages(queue)[0].Attributes[sqsqueue.AttrReplayed].String())
	if err != nil || replayed.Before(before.Truncate(time.Second)) || replayed.After(time.Now()) {
		t.Fatalf("%s = %v, %v; want the time of the replay", sqsqueue.AttrReplayed, replayed, err)
	}
}
