// Package sqsqueue is the delivery queue in AWS: jobs are SQS messages
// (body = the JSON of delivery.Job, docs/aws.md), delivered by the dispatch
// Lambda's SQS trigger through Handler. SQS owns the back-off: a retryable
// failure sets the message's visibility timeout to the delay and is
// reported in batchItemFailures; a permanent failure, or the last attempt,
// moves the job to the dead-letter queue with its reason, from which Replay
// sends it back.
package sqsqueue

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/pkg/delivery"
)

// SQS limits.
const (
	// MaxBatchEntries is the most messages of one batch request.
	MaxBatchEntries = 10
	// MaxBodySize is the largest message body Herald sends, and also the
	// most one SendMessageBatch may carry in all. Events may be up to 3 MiB,
	// so a job can exceed it.
	MaxBodySize = 256 << 10
	// MaxVisibility is the longest visibility timeout SQS accepts.
	MaxVisibility = 12 * 60 * 60 // seconds
)

// MaxReceiveCount is the delivery queue's maxReceiveCount for a retry
// horizon of maxAge: twice the attempts the schedule makes in it, plus 10.
// The Handler gives a job up at its horizon and dead-letters it with the
// reason; SQS's redrive is the backstop, and must not come first, for
// receives that make no attempt (an invocation that ran out of time, a
// claim another worker holds) count too. The SAM template's mapping
// DeliveryReceives holds its values.
func MaxReceiveCount(maxAge time.Duration) int {
	return 2*delivery.AttemptsWithin(maxAge) + 10
}

// API is the part of the SQS client this package uses; *sqs.Client
// implements it.
type API interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	ChangeMessageVisibility(ctx context.Context, in *sqs.ChangeMessageVisibilityInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

var _ API = (*sqs.Client)(nil)

// Queue sends delivery jobs to an SQS standard queue.
type Queue struct {
	client API
	url    string
}

var _ delivery.Queue = (*Queue)(nil)

// New returns a Queue sending to queueURL. It makes no request.
func New(client API, queueURL string) *Queue {
	return &Queue{client: client, url: queueURL}
}

// ErrTooLarge is matched (errors.Is) by Enqueue's error when a job's JSON
// exceeds MaxBodySize.
var ErrTooLarge = errors.New("delivery job too large for SQS")

// Enqueue sends jobs as messages, in batches of up to 10 that also stay
// within SQS's 256 KiB per request. Entries that SQS fails are sent once
// more; those that fail again are counted in the error. A job whose JSON is
// larger than 256 KiB fails the whole call before anything is sent. Errors
// never hold message bodies.
func (q *Queue) Enqueue(ctx context.Context, jobs ...delivery.Job) error {
	now := time.Now()
	for i := range jobs {
		if jobs[i].Queued.IsZero() {
			jobs[i].Queued = now // the start of its retry horizon
		}
	}
	entries := make([]types.SendMessageBatchRequestEntry, len(jobs))
	for i := range jobs {
		body, err := encode(&jobs[i])
		if err != nil {
			return err
		}
		entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body))}
	}

	var failed []types.BatchResultErrorEntry
	for _, batch := range batches(entries) {
		f, err := q.sendBatch(ctx, batch)
		if err != nil {
			return err
		}
		failed = append(failed, f...)
	}
	if len(failed) == 0 {
		return nil
	}

	// One more try for the entries SQS failed on its side; an entry it
	// refused (SenderFault) would be refused again.
	var retry []types.SendMessageBatchRequestEntry
	var refused []types.BatchResultErrorEntry
	for _, f := range failed {
		if f.SenderFault {
			refused = append(refused, f)
			continue
		}
		i, _ := strconv.Atoi(aws.ToString(f.Id))
		retry = append(retry, entries[i])
	}
	for _, batch := range batches(retry) {
		f, err := q.sendBatch(ctx, batch)
		if err != nil {
			return err
		}
		refused = append(refused, f...)
	}
	if len(refused) == 0 {
		return nil
	}
	return fmt.Errorf("sqs SendMessageBatch: %d of %d delivery jobs were not queued (%s)", len(refused), len(jobs), codes(refused))
}

// encode marshals job as a message body. SQS refuses the characters U+FFFE
// and U+FFFF, which json.Marshal writes as they are; as JSON escapes they
// decode to the same string.
func encode(job *delivery.Job) ([]byte, error) {
	body, err := job.AppendJSON(make([]byte, 0, 1024))
	if err != nil {
		return nil, fmt.Errorf("encoding delivery job %s: %w", job.ID, err)
	}
	body = bytes.ReplaceAll(body, []byte("\uFFFE"), []byte(`\ufffe`))
	body = bytes.ReplaceAll(body, []byte("\uFFFF"), []byte(`\uffff`))
	if len(body) > MaxBodySize {
		return nil, fmt.Errorf("%w: job %s for provider %s is %d bytes as JSON, SQS takes at most %d (256 KiB); "+
			"events may be up to 3 MiB, so this event's message or metadata is too long to queue",
			ErrTooLarge, job.ID, job.Provider, len(body), MaxBodySize)
	}
	return body, nil
}

// batches splits entries into requests of at most MaxBatchEntries entries
// and MaxBodySize bytes of messages.
func batches(entries []types.SendMessageBatchRequestEntry) [][]types.SendMessageBatchRequestEntry {
	var out [][]types.SendMessageBatchRequestEntry
	start, size := 0, 0
	for i, e := range entries {
		n := entrySize(e)
		if i > start && (i-start == MaxBatchEntries || size+n > MaxBodySize) {
			out = append(out, entries[start:i])
			start, size = i, 0
		}
		size += n
	}
	if start < len(entries) {
		out = append(out, entries[start:])
	}
	return out
}

// entrySize is what SQS counts of a message: its body and its attributes'
// names, types and values.
func entrySize(e types.SendMessageBatchRequestEntry) int {
	n := len(aws.ToString(e.MessageBody))
	for name, a := range e.MessageAttributes {
		n += len(name) + len(aws.ToString(a.DataType)) + len(aws.ToString(a.StringValue)) + len(a.BinaryValue)
	}
	return n
}

func (q *Queue) sendBatch(ctx context.Context, batch []types.SendMessageBatchRequestEntry) ([]types.BatchResultErrorEntry, error) {
	out, err := q.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.url), Entries: batch})
	if err != nil {
		return nil, fmt.Errorf("sqs SendMessageBatch of %d delivery jobs: %w", len(batch), err)
	}
	return out.Failed, nil
}

// codes lists the distinct error codes of failed entries: no messages,
// which could echo content.
func codes(failed []types.BatchResultErrorEntry) string {
	var cs []string
	for _, f := range failed {
		cs = append(cs, aws.ToString(f.Code))
	}
	slices.Sort(cs)
	return strings.Join(slices.Compact(cs), ", ")
}
