package sqsqueue_test

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/store"
)

// One good and one failing message, through the Lambda's JSON boundary:
// only the failing one is reported, and SQS hands it over again after the
// back-off.
func TestHandleBatchThroughInvoke(t *testing.T) {
	e := newEnv(t)
	raw, err := os.ReadFile("testdata/batch.json")
	if err != nil {
		t.Fatal(err)
	}
	// The fixture's messages are sent to goaws and received, so that their
	// ids and receipt handles are ones it knows.
	var ev events.SQSEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	// The fixture's messages were sent a minute ago.
	payload := strings.ReplaceAll(string(raw), `"SentTimestamp": "1795316681000"`,
		`"SentTimestamp": "`+strconv.FormatInt(e.now.Add(-time.Minute).UnixMilli(), 10)+`"`)
	ids, handles := map[string]string{}, map[string]string{}
	received := [2]time.Time{time.Now()}
	for i, rec := range ev.Records {
		m := e.sqs.InFlight(e.queueURL, rec.Body)
		payload = strings.Replace(payload, rec.MessageId, m.ID, 1)
		payload = strings.Replace(payload, rec.ReceiptHandle, m.ReceiptHandle, 1)
		name := []string{"ok", "busy"}[i]
		ids[name], handles[name] = m.ID, m.ReceiptHandle
	}
	received[1] = time.Now()

	ctx, cancel := context.WithDeadline(context.Background(), e.now.Add(time.Minute))
	defer cancel()
	invoked := [2]time.Time{time.Now()}
	out, err := lambda.NewHandler(e.handler.Handle).Invoke(ctx, []byte(payload))
	invoked[1] = time.Now()
	if err != nil {
		t.Fatal(err)
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if got := failedIDs(resp); !slices.Equal(got, []string{ids["busy"]}) {
		t.Fatalf("batchItemFailures %v, want only the failing message %s\n%s", got, ids["busy"], e.logs)
	}

	vis := e.sqs.CallsOf("ChangeMessageVisibility")
	if len(vis) != 1 {
		t.Fatalf("%d ChangeMessageVisibility calls, want 1", len(vis))
	}
	if vis[0].QueueURL != e.queueURL || vis[0].ReceiptHandle != handles["busy"] || *vis[0].VisibilityTimeout != 2 {
		t.Fatalf("ChangeMessageVisibility %s %s %d, want the failing message's receipt and 2 s",
			vis[0].QueueURL, vis[0].ReceiptHandle, *vis[0].VisibilityTimeout)
	}
	// goaws hides the failing message for the back-off; the delivered one
	// keeps the visibility timeout of its receive until the Lambda service
	// deletes it.
	wantHiddenFor(t, e.sqs, e.queueURL, ids["busy"], 2*time.Second, invoked)
	wantHiddenFor(t, e.sqs, e.queueURL, ids["ok"], queueVisibility*time.Second, received)
	if n := len(e.sqs.CallsOf("SendMessage")); n != 0 {
		t.Fatalf("%d messages dead-lettered", n)
	}
	if e.posts("/ok") != 1 || e.posts("/busy") != 1 {
		t.Fatalf("posts: ok %d, busy %d; want one each", e.posts("/ok"), e.posts("/busy"))
	}

	// The delivered job is done; the failed one is free for its retry.
	ctx = context.Background()
	if r, _ := e.store.ClaimDelivery(ctx, "job-ok", time.Minute); r.State != store.AlreadyDone {
		t.Errorf("job-ok is %s, want done", r.State)
	}
	if r, _ := e.store.ClaimDelivery(ctx, "job-busy", time.Minute); r.State != store.Claimed {
		t.Errorf("job-busy is %s, want released", r.State)
	}

	// SQS hands the failing message over again once the back-off is over,
	// not before.
	var again []types.Message
	e.sqs.WaitUntil("the failing message to come back", func() bool {
		out, err := e.sqs.Client().ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(e.queueURL), MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		again = out.Messages
		return len(again) > 0
	})
	if d := time.Since(invoked[0]); d < 2*time.Second {
		t.Fatalf("the failing message came back %v after the invocation, before its back-off of 2 s", d)
	}
	if len(again) != 1 || aws.ToString(again[0].MessageId) != ids["busy"] {
		t.Fatalf("received %d messages, want only the failing one %s", len(again), ids["busy"])
	}
}

func TestHandleRetryDelays(t *testing.T) {
	for _, tc := range []struct {
		name     string
		provider string
		receives int
		want     int32
	}{
		{"first attempt", "busy", 1, 2},
		{"third attempt", "busy", 3, 8},
		{"retry-after", "throttle", 1, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.receive(body(t, job("j", tc.provider)), tc.receives)
			resp := e.handle(t, rec)
			if got := failedIDs(resp); !slices.Equal(got, []string{rec.MessageId}) {
				t.Fatalf("batchItemFailures %v", got)
			}
			vis := e.sqs.CallsOf("ChangeMessageVisibility")
			if len(vis) != 1 || vis[0].ReceiptHandle != rec.ReceiptHandle || *vis[0].VisibilityTimeout != tc.want {
				t.Fatalf("ChangeMessageVisibility %+v, want %d s", vis, tc.want)
			}
			e.wantHiddenFor(t, rec.MessageId, time.Duration(tc.want)*time.Second)
		})
	}
}

func TestHandlePermanentFailureGoesToDLQ(t *testing.T) {
	e := newEnv(t)
	b := body(t, job("j-bad", "leaky"))
	rec := e.receive(b, 1)
	resp := e.handle(t, rec)
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures %v; a dead-lettered message is acknowledged", failedIDs(resp))
	}
	sends := e.sqs.CallsOf("SendMessage")
	if len(sends) != 1 || sends[0].QueueURL != e.dlqURL {
		t.Fatalf("SendMessage calls %+v, want one to the DLQ", sends)
	}
	dead := e.sqs.Messages(e.dlqURL)
	if len(dead) != 1 {
		t.Fatalf("the DLQ holds %d messages, want 1", len(dead))
	}
	m := dead[0]
	if m.Body != b {
		t.Fatalf("DLQ body %q, want the original", m.Body)
	}
	if len(m.Attributes) != 2 {
		t.Fatalf("DLQ message attributes %v, want the reason and the provider", m.Attributes)
	}
	reason := m.Attributes[sqsqueue.AttrFailureReason]
	if reason.DataType != "String" || !strings.HasPrefix(reason.String(), "permanent failure: ") || !strings.Contains(reason.String(), "400") {
		t.Fatalf("failure reason %+v", reason)
	}
	if p := m.Attributes[sqsqueue.AttrProvider]; p.DataType != "String" || p.String() != "flux-system/leaky" {
		t.Fatalf("provider attribute %+v", p)
	}
	if strings.Contains(reason.String(), "SECRET") || strings.Contains(e.logs.String(), "SECRET") {
		t.Fatalf("the webhook path leaked: reason %q, logs %s", reason.String(), e.logs)
	}
	if n := len(e.sqs.CallsOf("ChangeMessageVisibility")); n != 0 {
		t.Fatalf("%d visibility changes", n)
	}
	if e.posts(secretPath) != 1 {
		t.Fatalf("%d posts, want 1", e.posts(secretPath))
	}
	// Released, so that a replay can deliver it.
	if r, _ := e.store.ClaimDelivery(context.Background(), "j-bad", time.Minute); r.State != store.Claimed {
		t.Fatalf("j-bad is %s after giving up, want released", r.State)
	}
}

// A job whose next retry would fall after its horizon goes to the DLQ with
// the reason; one queued a little later is retried.
func TestHandleHorizonGoesToDLQ(t *testing.T) {
	e := newEnv(t)
	old := job("j", "busy")
	old.Queued = e.now.Add(-delivery.DefaultMaxAge + time.Minute)
	b := body(t, old)
	rec := e.receive(b, 8) // the next retry is 256 s away
	if resp := e.handle(t, rec); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures %v", failedIDs(resp))
	}
	if n := len(e.sqs.CallsOf("SendMessage")); n != 1 {
		t.Fatalf("%d SendMessage calls, want 1", n)
	}
	dead := e.sqs.Messages(e.dlqURL)
	if len(dead) != 1 || dead[0].Body != b || !strings.HasPrefix(dead[0].Attributes[sqsqueue.AttrFailureReason].String(), "max delivery age reached: ") {
		t.Fatalf("the DLQ holds %+v, want the job with the reason max delivery age reached", dead)
	}
	if n := len(e.sqs.CallsOf("ChangeMessageVisibility")); n != 0 {
		t.Fatalf("%d visibility changes for a job given up", n)
	}

	e.sqs.Reset()
	younger := job("j2", "busy")
	younger.Queued = e.now.Add(-delivery.DefaultMaxAge + 5*time.Minute)
	rec = e.receive(body(t, younger), 8)
	if resp := e.handle(t, rec); !slices.Equal(failedIDs(resp), []string{rec.MessageId}) {
		t.Fatalf("batchItemFailures %v, want the retried message", failedIDs(resp))
	}
	if n := len(e.sqs.CallsOf("SendMessage")); n != 0 || len(e.sqs.Messages(e.dlqURL)) != 1 {
		t.Fatalf("%d sends to the DLQ within the horizon", n)
	}
	e.wantHiddenFor(t, rec.MessageId, 256*time.Second)
}

func TestHandleDLQSendFailureKeepsTheMessage(t *testing.T) {
	e := newEnv(t)
	e.handler.DLQURL = e.sqs.URL + "/000000000000/missing-dlq"
	bad := e.receive(body(t, job("j-bad", "bad")), 1)
	malformed := e.receive("{not json", 1)
	ok := e.receive(body(t, job("j-ok", "ok")), 1)
	resp := e.handle(t, bad, malformed, ok)
	if got := failedIDs(resp); !slices.Equal(got, []string{bad.MessageId, malformed.MessageId}) {
		t.Fatalf("batchItemFailures %v, want the two that could not be dead-lettered", got)
	}
}

func TestHandleMalformedJob(t *testing.T) {
	e := newEnv(t)
	const secretish = `{"id": "x", "provider": {"name": 42}, "NOTLOGGED": true`
	for _, b := range []string{"plain text", secretish, `{"provider": {"namespace": "a", "name": "b"}}`} {
		e.sqs.Reset()
		rec := e.receive(b, 1)
		if resp := e.handle(t, rec); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%q: batchItemFailures %v", b, failedIDs(resp))
		}
		sends := e.sqs.CallsOf("SendMessage")
		if len(sends) != 1 || sends[0].QueueURL != e.dlqURL || sends[0].Entries[0].Body != b {
			t.Fatalf("%q: SendMessage %+v", b, sends)
		}
		attrs := sends[0].Entries[0].Attributes
		if attrs[sqsqueue.AttrFailureReason].String() != "malformed job" {
			t.Fatalf("%q: reason %+v", b, attrs)
		}
		if _, ok := attrs[sqsqueue.AttrProvider]; ok {
			t.Fatalf("%q: a provider attribute without a job", b)
		}
	}
	if got, want := e.sqs.Bodies(e.dlqURL), []string{"plain text", secretish, `{"provider": {"namespace": "a", "name": "b"}}`}; !slices.Equal(got, want) {
		t.Fatalf("the DLQ holds %q, want %q", got, want)
	}
	if strings.Contains(e.logs.String(), "NOTLOGGED") {
		t.Fatalf("a message body reached the logs: %s", e.logs)
	}
	if n := len(e.sink.Requests()); n != 0 {
		t.Fatalf("%d posts", n)
	}
}

// A message delivered again after a success posts nothing.
func TestHandleRedeliveryAfterSuccessDoesNotPostTwice(t *testing.T) {
	e := newEnv(t)
	b := body(t, job("j-once", "ok"))
	first := e.receive(b, 1)
	if resp := e.handle(t, first); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("first delivery failed: %v", failedIDs(resp))
	}
	e.sqs.Reset()
	e.now = e.now.Add(time.Hour)
	// The Lambda service did not get to delete it: SQS hands it over again.
	again := e.redeliver(first, 2)
	if resp := e.handle(t, again); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("redelivery reported failed: %v", failedIDs(resp))
	}
	if n := e.posts("/ok"); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
	if calls := e.sqs.Calls(); len(calls) != 0 {
		t.Fatalf("redelivery made SQS calls %+v", calls)
	}
}

// A job another worker holds is not sent; it is retried once that
// worker's lease can have run out: the invocation's remaining time.
func TestHandleInProgressElsewhere(t *testing.T) {
	e := newEnv(t)
	if r, err := e.store.ClaimDelivery(context.Background(), "j-held", time.Minute); err != nil || r.State != store.Claimed {
		t.Fatal(r, err)
	}
	rec := e.receive(body(t, job("j-held", "ok")), 2)
	resp := e.handle(t, rec) // deadline a minute away
	if got := failedIDs(resp); !slices.Equal(got, []string{rec.MessageId}) {
		t.Fatalf("batchItemFailures %v", got)
	}
	vis := e.sqs.CallsOf("ChangeMessageVisibility")
	if len(vis) != 1 || *vis[0].VisibilityTimeout != 60 {
		t.Fatalf("ChangeMessageVisibility %+v, want 60 s", vis)
	}
	e.wantHiddenFor(t, rec.MessageId, time.Minute)
	if n := len(e.sink.Requests()); n != 0 {
		t.Fatalf("%d posts while another worker holds the job", n)
	}
}

func TestHandleConcurrencyIsBounded(t *testing.T) {
	e := newEnv(t)
	e.handler.Concurrency = 4
	g := newGate(4)
	slowGate.Store(g)
	var recs []events.SQSMessage
	for i := range 12 {
		recs = append(recs, e.receive(body(t, job("slow-"+string(rune('a'+i)), "slow")), 1))
	}
	if resp := e.handle(t, recs...); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures %v", failedIDs(resp))
	}
	// The gate opens only when four deliveries are in flight at once; a
	// handler that sent one at a time would time out there.
	if g.timedOut.Load() {
		t.Fatalf("never %d deliveries at once (max %d): deliveries did not run concurrently", g.bound, g.max.Load())
	}
	if m := g.max.Load(); m != 4 {
		t.Fatalf("%d deliveries at once, want the bound 4", m)
	}
	if n := e.posts("/slow"); n != 12 {
		t.Fatalf("%d posts, want 12", n)
	}
}

// The handler never waits out a back-off: a batch of retries returns at
// once.
func TestHandleNeverSleeps(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.handle(t, e.receive(body(t, job("a", "throttle")), 1), e.receive(body(t, job("b", "busy")), 5))
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Handle took %v for two retries", d)
	}
}
