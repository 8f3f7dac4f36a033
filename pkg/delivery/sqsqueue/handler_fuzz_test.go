package sqsqueue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store"
)

// fakeSQS records the calls Handle makes; it needs no network.
type fakeSQS struct {
	sqsqueue.API
	sent       []*sqs.SendMessageInput
	visibility []int32
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.sent = append(f.sent, in)
	return &sqs.SendMessageOutput{}, nil
}

func (f *fakeSQS) ChangeMessageVisibility(_ context.Context, in *sqs.ChangeMessageVisibilityInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityOutput, error) {
	f.visibility = append(f.visibility, in.VisibilityTimeout)
	return &sqs.ChangeMessageVisibilityOutput{}, nil
}

// fakeClaims grants every claim and keeps what a retry records.
type fakeClaims struct{ pending []store.DeliveryRecord }

func (c *fakeClaims) ClaimDelivery(context.Context, string, time.Duration) (store.ClaimResult, error) {
	return store.ClaimResult{State: store.Claimed, Token: "t"}, nil
}
func (c *fakeClaims) CompleteDelivery(context.Context, string) error        { return nil }
func (c *fakeClaims) ReleaseDelivery(context.Context, string, string) error { return nil }
func (c *fakeClaims) ReleaseForRetry(_ context.Context, _, _ string, r store.DeliveryRecord) error {
	c.pending = append(c.pending, r)
	return nil
}

// fakeNotifier records the events it gets and answers with err.
type fakeNotifier struct {
	got []event.Event
	err error
}

func (n *fakeNotifier) Notify(_ context.Context, ev event.Event) (bool, error) {
	n.got = append(n.got, ev)
	return notify.Outcome(n.err)
}

// FuzzHandleRecord hands Handle one SQS record with an arbitrary body and
// arbitrary receive count, sent time and replay attribute, and a notifier
// that succeeds, fails for now or fails for good. A body that is no job
// goes to the dead-letter queue unchanged and reaches no notifier; a job
// reaches it with the event it holds, once; the horizon never starts
// before the job was queued; nothing panics; and every attribute sent
// is one SQS accepts.
func FuzzHandleRecord(f *testing.F) {
	raw, err := os.ReadFile("testdata/batch.json")
	if err != nil {
		f.Fatal(err)
	}
	var batch events.SQSEvent
	if err := json.Unmarshal(raw, &batch); err != nil {
		f.Fatal(err)
	}
	for i, rec := range batch.Records {
		f.Add(rec.Body, rec.Attributes["ApproximateReceiveCount"], rec.Attributes["SentTimestamp"], "", uint8(i))
	}
	job := batch.Records[0].Body
	f.Add(job, "3", "1795316681000", "2026-11-22T03:00:00Z", uint8(1))
	f.Add(strings.Replace(job, `"attempt":0`, `"attempt":0,"queued":"2026-11-22T02:30:00Z"`, 1), "0", "x", "not a time", uint8(1))
	f.Add(strings.Replace(job, `"attempt":0`, `"attempt":0,"queued":"2000-01-01T00:00:00Z"`, 1), "-1", "", "", uint8(1))
	f.Add(strings.Replace(job, `"id":"job-ok"`, `"id":""`, 1), "1", "", "", uint8(0))
	f.Add(`{"id":"x","event":{"metadata":{"a":"\xff"}},"attempt":"many"}`, "1", "", "", uint8(2))
	f.Add("not json", "1", "", "", uint8(0))
	f.Add(`{"id":"x"}`, "99999999999999999999", "-99999999999999999", "", uint8(1))

	now := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body, receives, sent, replayed string, outcome uint8) {
		client, claims := &fakeSQS{}, &fakeClaims{}
		notifier := &fakeNotifier{}
		switch outcome % 3 {
		case 1:
			notifier.err = notify.Retryable(errors.New("busy"))
		case 2:
			notifier.err = notify.Permanent(errors.New("bad \xff request " + strings.Repeat("x", 2000)))
		}
		logs := &testlog.Buffer{}
		h := &sqsqueue.Handler{
			Deliverer: &delivery.Deliverer{
				Targets: func(delivery.ProviderRef) (delivery.Target, error) { return delivery.Target{Notifier: notifier}, nil },
				Metrics: metrics.Nop{},
				Logger:  slog.New(slog.DiscardHandler),
				Now:     func() time.Time { return now },
			},
			Idempotency: claims,
			Client:      client,
			QueueURL:    "https://sqs.example/q",
			DLQURL:      "https://sqs.example/dlq",
			Logger:      slog.New(slog.NewTextHandler(logs, nil)),
			Now:         func() time.Time { return now },
		}
		rec := events.SQSMessage{MessageId: "m1", ReceiptHandle: "r1", Body: body,
			Attributes: map[string]string{"ApproximateReceiveCount": receives, "SentTimestamp": sent}}
		if replayed != "" {
			rec.MessageAttributes = map[string]events.SQSMessageAttribute{sqsqueue.AttrReplayed: {StringValue: &replayed, DataType: "String"}}
		}
		resp, err := h.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}})
		if err != nil || len(resp.BatchItemFailures) > 1 {
			t.Fatalf("Handle = %+v, %v", resp, err)
		}
		if strings.Contains(logs.String(), "panicked") {
			t.Fatalf("the delivery panicked:\n%s", logs.String())
		}
		failed := len(resp.BatchItemFailures) == 1
		for _, in := range client.sent {
			if *in.MessageBody != body {
				t.Fatalf("the dead letter's body changed: %q", *in.MessageBody)
			}
			for name, a := range in.MessageAttributes {
				if v := *a.StringValue; len(v) > 1024 || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
					return r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0xFFFE || r == 0xFFFF
				}) {
					t.Fatalf("attribute %s = %q, which SQS refuses", name, v)
				}
			}
		}
		for _, v := range client.visibility {
			if v < 0 || v > sqsqueue.MaxVisibility {
				t.Fatalf("visibility timeout %d", v)
			}
		}

		var decoded delivery.Job
		if json.Unmarshal([]byte(body), &decoded) != nil || decoded.ID == "" {
			if len(notifier.got) != 0 || failed || len(client.sent) != 1 ||
				*client.sent[0].MessageAttributes[sqsqueue.AttrFailureReason].StringValue != sqsqueue.ReasonMalformed {
				t.Fatalf("malformed body %q: notified %d, failed %v, dead letters %d", body, len(notifier.got), failed, len(client.sent))
			}
			return
		}
		if len(notifier.got) != 1 {
			t.Fatalf("job %q notified %d times", decoded.ID, len(notifier.got))
		}
		want, _ := json.Marshal(decoded.Event)
		if got, _ := json.Marshal(notifier.got[0]); !bytes.Equal(got, want) {
			t.Fatalf("notified\n%s\nwant\n%s", got, want)
		}
		switch outcome % 3 {
		case 0:
			if failed || len(client.sent) != 0 {
				t.Fatalf("a delivered job: failed %v, dead letters %d", failed, len(client.sent))
			}
		case 1:
			// Retried (failed, with a delay) or given up past its horizon.
			if failed == (len(client.sent) == 1) || failed != (len(client.visibility) == 1) || len(claims.pending) != len(client.visibility) {
				t.Fatalf("a retryable failure: failed %v, dead letters %d, delays %v", failed, len(client.sent), client.visibility)
			}
			for _, p := range claims.pending {
				var e delivery.Entry
				if err := json.Unmarshal(p.Job, &e); err != nil {
					t.Fatal(err)
				}
				// The horizon starts when the job was queued or replayed, or
				// when SQS or the Deliverer first saw it, never earlier.
				candidates := []time.Time{decoded.Queued, now}
				if at, err := time.Parse(time.RFC3339Nano, replayed); err == nil {
					candidates = append(candidates, at)
				}
				if ms, err := strconv.ParseInt(sent, 10, 64); err == nil {
					candidates = append(candidates, time.UnixMilli(ms))
				}
				if !decoded.Queued.IsZero() && e.Queued.Before(decoded.Queued) ||
					!slices.ContainsFunc(candidates, func(c time.Time) bool { return c.Equal(e.Queued) }) {
					t.Fatalf("horizon starts at %v for a job queued at %v (sent %q, replayed %q)", e.Queued, decoded.Queued, sent, replayed)
				}
				if e.Attempts < 1 {
					t.Fatalf("attempt %d", e.Attempts)
				}
			}
		case 2:
			if failed || len(client.sent) != 1 {
				t.Fatalf("a permanent failure: failed %v, dead letters %d", failed, len(client.sent))
			}
		}
	})
}
