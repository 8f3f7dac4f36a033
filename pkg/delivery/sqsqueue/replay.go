package sqsqueue

import (
	"context"
	"crypto/sha256"
	"fmt"
	"maps"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const (
	// replayVisibility hides the messages Replay holds; if it stops half
	// way, they are back in the dead-letter queue after this long.
	replayVisibility = 60 // seconds
	// emptyReceives is how many empty answers in a row mean the
	// dead-letter queue is empty: a short poll (WaitTimeSeconds 0) samples
	// only some of SQS's servers and may answer empty while messages wait.
	emptyReceives = 3
)

// Replay moves up to max messages (all of them when max <= 0) from the
// dead-letter queue dlqURL back to the delivery queue queueURL, for herald
// replay. Bodies are sent as they are, so a job keeps its id and its
// idempotency record; the failure attributes Handler added are dropped,
// AttrReplayed is set to now, which starts the job's retry horizon again,
// and other attributes are kept. A message is deleted from the dead-letter queue
// only after its send succeeded. Replay stops early when a job it already
// moved comes back, having failed again. moved counts the messages sent to
// the delivery queue.
func Replay(ctx context.Context, client API, dlqURL, queueURL string, max int) (moved int, err error) {
	seen := map[[sha256.Size]byte]bool{}
	for empties := 0; empties < emptyReceives && (max <= 0 || moved < max); {
		want := int32(MaxBatchEntries)
		if max > 0 {
			want = min(want, int32(max-moved))
		}
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(dlqURL),
			MaxNumberOfMessages: want,
			// A short poll. The SDK does not send a zero, so the DLQ's
			// ReceiveMessageWaitTimeSeconds applies: 0 unless set.
			WaitTimeSeconds:       0,
			VisibilityTimeout:     replayVisibility,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			return moved, fmt.Errorf("sqs ReceiveMessage from the dead-letter queue: %w", err)
		}
		if len(out.Messages) == 0 {
			empties++
			continue
		}
		empties = 0

		var batch []types.Message
		var back []types.Message // received, not moved: made visible again
		for _, m := range out.Messages {
			h := sha256.Sum256([]byte(aws.ToString(m.Body)))
			if seen[h] {
				back = append(back, m)
				continue
			}
			seen[h] = true
			batch = append(batch, m)
		}
		n, err := replayBatch(ctx, client, dlqURL, queueURL, batch)
		moved += n
		if len(back) > 0 {
			makeVisible(ctx, client, dlqURL, back)
			if err == nil {
				return moved, nil // what is left failed again since
			}
		}
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// replayBatch sends msgs to queueURL and deletes the sent ones from dlqURL.
// It returns how many were sent.
func replayBatch(ctx context.Context, client API, dlqURL, queueURL string, msgs []types.Message) (int, error) {
	if len(msgs) == 0 {
		return 0, nil
	}
	replayed := time.Now().UTC().Format(time.RFC3339Nano)
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		attrs := maps.Clone(m.MessageAttributes)
		if attrs == nil {
			attrs = map[string]types.MessageAttributeValue{}
		}
		delete(attrs, AttrFailureReason)
		delete(attrs, AttrProvider)
		attrs[AttrReplayed] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(replayed)}
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: attrs}
	}
	var sent []int
	var failed []types.BatchResultErrorEntry
	var sendErr error
	for _, batch := range batches(entries) {
		out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: batch})
		if err != nil {
			sendErr = fmt.Errorf("sqs SendMessageBatch to the delivery queue: %w", err)
			break
		}
		for _, ok := range out.Successful {
			i, _ := strconv.Atoi(aws.ToString(ok.Id))
			sent = append(sent, i)
		}
		failed = append(failed, out.Failed...)
	}

	var unsent []types.Message
	isSent := make([]bool, len(msgs))
	for _, i := range sent {
		isSent[i] = true
	}
	for i, m := range msgs {
		if !isSent[i] {
			unsent = append(unsent, m)
		}
	}
	makeVisible(ctx, client, dlqURL, unsent)

	delErr := deleteMessages(ctx, client, dlqURL, msgs, sent)
	switch {
	case sendErr != nil:
		return len(sent), sendErr
	case len(failed) > 0:
		return len(sent), fmt.Errorf("sqs SendMessageBatch: %d of %d messages were not sent to the delivery queue (%s); they stay in the dead-letter queue", len(failed), len(msgs), codes(failed))
	}
	return len(sent), delErr
}

// deleteMessages deletes msgs[i] for each i of which from dlqURL.
func deleteMessages(ctx context.Context, client API, dlqURL string, msgs []types.Message, which []int) error {
	if len(which) == 0 {
		return nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, len(which))
	for j, i := range which {
		entries[j] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: msgs[i].ReceiptHandle}
	}
	out, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(dlqURL), Entries: entries})
	if err != nil {
		return fmt.Errorf("sqs DeleteMessageBatch from the dead-letter queue, after sending %d messages: %w; they will be replayed again, which delivery idempotency absorbs", len(which), err)
	}
	if len(out.Failed) > 0 {
		return fmt.Errorf("sqs DeleteMessageBatch: %d of %d sent messages stay in the dead-letter queue (%s); they will be replayed again, which delivery idempotency absorbs", len(out.Failed), len(which), codes(out.Failed))
	}
	return nil
}

// makeVisible returns messages received but not moved to the dead-letter
// queue at once, best effort: otherwise they return after replayVisibility.
func makeVisible(ctx context.Context, client API, dlqURL string, msgs []types.Message) {
	for _, m := range msgs {
		_, _ = client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(dlqURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		})
	}
}
