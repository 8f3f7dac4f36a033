package sqsqueue

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/pkg/delivery"
)

// listVisibility hides the messages ListDeadLetters reads while it reads
// on, so that each is seen once; they are made visible again at the end.
const listVisibility = 30 // seconds

// ListDeadLetters lists the jobs in the dead-letter queue dlqURL, with the
// reason Handler gave, for herald deliveries. It leaves every message
// where it is. A message that is not a job is listed by its message id.
func ListDeadLetters(ctx context.Context, client API, dlqURL string) ([]delivery.Entry, error) {
	var held []types.Message
	defer func() { makeVisible(context.WithoutCancel(ctx), client, dlqURL, held) }()
	seen := map[string]bool{}
	var out []delivery.Entry
	for empties := 0; empties < emptyReceives; {
		got, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:              aws.String(dlqURL),
			MaxNumberOfMessages:   MaxBatchEntries,
			VisibilityTimeout:     listVisibility,
			MessageAttributeNames: []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{
				types.MessageSystemAttributeNameSentTimestamp,
			},
		})
		if err != nil {
			return out, fmt.Errorf("sqs ReceiveMessage from the dead-letter queue: %w", err)
		}
		fresh := 0
		for _, m := range got.Messages {
			held = append(held, m)
			if seen[aws.ToString(m.MessageId)] {
				continue
			}
			seen[aws.ToString(m.MessageId)] = true
			fresh++
			out = append(out, deadLetterEntry(m))
		}
		if fresh == 0 {
			empties++
		} else {
			empties = 0
		}
	}
	return out, nil
}

func deadLetterEntry(m types.Message) delivery.Entry {
	var job delivery.Job
	e := delivery.Entry{ID: "message " + aws.ToString(m.MessageId), State: delivery.StateDead, Reason: ReasonMalformed}
	if json.Unmarshal([]byte(aws.ToString(m.Body)), &job) == nil && job.ID != "" {
		e = delivery.EntryOf(&job, delivery.StateDead)
		e.Reason = ""
	}
	if a, ok := m.MessageAttributes[AttrFailureReason]; ok {
		e.Reason = aws.ToString(a.StringValue)
	}
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		e.Updated = time.UnixMilli(ms).UTC()
	}
	return e
}
