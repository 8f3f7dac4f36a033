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
	// Now and then goaws keeps a few messages hidden for the queue's
	// visibility timeout (190 s) after the function set a back-off of a
	// second or two; the cause is not found. Such a message comes back
	// as it would on SQS after a lost visibility change, so the deadline
	// allows for one queue visibility timeout, and says how many were late.
	deadline := start.Add(outage + 190*time.Second + time.Minute)
	late := start.Add(outage + time.Minute)
	for delivered := 0; delivered < jobs; {
		if time.Now().After(late) {
			t.Logf("%d of %d jobs delivered a minute after the outage; waiting for the queue's visibility timeout", delivered, jobs)
			late = deadline
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d jobs delivered %v after the outage; %d in the DLQ, %d in the queue, %d retry delays not set",
				delivered, jobs, deadline.Sub(start.Add(outage)), len(st.sqs.Messages(st.dlqURL)), len(st.sqs.Messages(st.queueURL)),
				strings.Count(f.Output(), "setting the retry delay failed"))
		}
		if time.Since(start) >= outage {
			st.down.Store(false) // the provider is back
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.queueURL), MaxNumberOfMessages: 10})
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
