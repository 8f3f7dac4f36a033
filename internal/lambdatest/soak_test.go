package lambdatest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/internal/lambdatest"
	"github.com/heraldhq/herald/internal/sqstest"
)

// testDispatchSQSOutageSoak plays a provider outage of 10 minutes through
// the dispatch binary's SQS handler, on goaws and DynamoDB Local, with the
// retry delays scaled by 0.01 (HERALD_RETRY_SCALE): 200 distinct jobs
// queued at its start are all delivered once the provider is back, each
// exactly once, and none reaches the DLQ. The test plays the Lambda
// service's poller: it receives batches of up to 10, invokes the
// function, and deletes the messages that did not fail.
func testDispatchSQSOutageSoak(t *testing.T, b *lambdatest.Builder) {
	const jobs = 200
	const outage = 6 * time.Second // 10 minutes × 0.01
	st := newStack(t)
	st.putProvider(t, "flaky", "/flaky")
	st.down.Store(true)
	f := lambdatest.Start(t, b.MustBuild(t, dispatchPkg, lambdatest.Host()), append(st.env(true), "HERALD_RETRY_SCALE=0.01"))

	ctx := context.Background()
	client := st.sqs.Client()
	start := time.Now()
	for i := range jobs {
		j := st.job("flaky")
		j.Event.Message = fmt.Sprintf("soak %03d", i)
		j.ID = fmt.Sprintf("soak-%03d", i)
		j.Queued = start
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(st.queueURL), MessageBody: aws.String(jobBody(t, j))}); err != nil {
			t.Fatal(err)
		}
	}

	receives := map[string]int{}
	// The poller receives with a visibility timeout of its own, shorter
	// than the queue's 190 s: now and then (about one run in four here)
	// the SDK's read of a ReceiveMessage answer fails on the client side
	// ("use of closed network connection" in the body of a 200) and the
	// SDK retries it. The messages of the lost answer stay hidden for the
	// receive's visibility timeout, as they would on SQS; with the
	// queue's, the run waited more than three minutes. Whether the
	// function sets each back-off is checked below, on its
	// ChangeMessageVisibility calls, not on how soon jobs come back.
	const receiveVisibility = 10 // seconds
	var failedHandles []string
	deadline := start.Add(outage + receiveVisibility*time.Second + lambdatest.DefaultTimeout + time.Minute)
	for delivered := 0; delivered < jobs; {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs delivered %v after the outage; %d in the DLQ, %d in the queue, %d retry delays not set",
				delivered, jobs, deadline.Sub(start.Add(outage)), len(st.sqs.Messages(st.dlqURL)), len(st.sqs.Messages(st.queueURL)),
				strings.Count(f.Output(), "setting the retry delay failed"))
		}
		if time.Since(start) >= outage {
			st.down.Store(false) // the provider is back
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(st.queueURL), MaxNumberOfMessages: 10, VisibilityTimeout: receiveVisibility,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		var batch []received
		for _, m := range out.Messages {
			id := aws.ToString(m.MessageId)
			receives[id]++
			batch = append(batch, received{sqstest.Message{ID: id, Body: aws.ToString(m.Body), ReceiptHandle: aws.ToString(m.ReceiptHandle)}, receives[id], start})
		}
		failed := failedIDs(invokeSQS(t, f, st.sqsEvent(t, batch...)))
		for _, m := range batch {
			if slices.Contains(failed, m.ID) {
				failedHandles = append(failedHandles, m.ReceiptHandle)
				continue // its visibility timeout is the back-off the function set
			}
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(st.queueURL), ReceiptHandle: aws.String(m.ReceiptHandle)}); err != nil {
				t.Fatal(err)
			}
			delivered++
		}
	}

	// Each job delivered once: one "delivered" line, and one POST after the
	// provider came back.
	logs := f.Output()
	for i := range jobs {
		if n := strings.Count(logs, fmt.Sprintf(`"msg":"delivered","delivery":"soak-%03d"`, i)); n != 1 {
			t.Errorf("soak-%03d delivered %d times, want once", i, n)
		}
	}
	if n := len(st.posts("/flaky")) - st.postsWhileDown(); n != jobs {
		t.Errorf("%d POSTs after the outage, want %d", n, jobs)
	}
	if dead := st.sqs.Messages(st.dlqURL); len(dead) != 0 {
		t.Fatalf("%d jobs in the DLQ, want none", len(dead))
	}
	// Every message the function failed had its back-off set: a
	// ChangeMessageVisibility on that receive, of the back-off in whole
	// seconds rounded up (20 ms doubling to 3 s: Herald's 2 s and 5 min
	// scaled by 0.01), or, for a message received again while an
	// invocation that ran past receiveVisibility still held its claim, of
	// the claim's lease, at most the invocation's timeout.
	backoffs := map[string]int32{}
	for _, c := range st.sqs.CallsOf("ChangeMessageVisibility") {
		backoffs[c.ReceiptHandle] = aws.ToInt32(c.VisibilityTimeout)
	}
	for _, h := range failedHandles {
		if v, ok := backoffs[h]; !ok || v < 1 || time.Duration(v)*time.Second > lambdatest.DefaultTimeout {
			t.Errorf("failed receive %s: visibility set to %d s (set: %v), want the back-off or a lease, 1 s to %v", h, v, ok, lambdatest.DefaultTimeout)
		}
	}
	retried := 0
	for _, n := range receives {
		if n > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Fatal("no job was retried: the outage did not happen")
	}
}
