package sqsqueue_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/internal/sqstest"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
)

func newQueue(t *testing.T) (*sqsqueue.Queue, *sqstest.SQS, string) {
	t.Helper()
	s := sqstest.New(t)
	url := s.Queue("herald-deliveries")
	return sqsqueue.New(s.Client(), url), s, url
}

func jobs(n int) []delivery.Job {
	out := make([]delivery.Job, n)
	for i := range out {
		out[i] = job(fmt.Sprintf("job-%02d", i), "ok")
		out[i].Event.Message = fmt.Sprintf("message %d", i)
	}
	return out
}

func TestEnqueueChunksOfTen(t *testing.T) {
	q, s, url := newQueue(t)
	in := jobs(25)
	if err := q.Enqueue(context.Background(), in...); err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3 SendMessageBatch", len(calls))
	}
	var sent []string
	next := 0
	for i, c := range calls {
		if c.Op != "SendMessageBatch" || c.QueueURL != url {
			t.Fatalf("call %d: %s to %s", i, c.Op, c.QueueURL)
		}
		if want := []int{10, 10, 5}[i]; len(c.Entries) != want {
			t.Fatalf("call %d has %d entries, want %d", i, len(c.Entries), want)
		}
		for _, e := range c.Entries {
			if e.ID != strconv.Itoa(next) {
				t.Fatalf("entry id %q, want the job's index %d", e.ID, next)
			}
			if len(e.Attributes) != 0 {
				t.Fatalf("entry %s has attributes %v", e.ID, e.Attributes)
			}
			var got delivery.Job
			if err := json.Unmarshal([]byte(e.Body), &got); err != nil {
				t.Fatal(err)
			}
			// Compared as JSON: decoding leaves empty maps where nil was.
			if a, b := body(t, got), body(t, in[next]); a != b {
				t.Fatalf("entry %s decodes to\n%s\nwant\n%s", e.ID, a, b)
			}
			sent = append(sent, e.Body)
			next++
		}
	}
	if got := s.Bodies(url); !slices.Equal(got, sent) {
		t.Fatalf("queue holds %d messages, want the 25 sent, in order", len(got))
	}
}

// SQS also limits a batch to 256 KiB in all: big jobs go in smaller batches.
func TestEnqueueSplitsBatchesBySize(t *testing.T) {
	q, s, url := newQueue(t)
	in := jobs(5)
	for i := range in {
		in[i].Event.Message = strings.Repeat("x", 100<<10)
	}
	if err := q.Enqueue(context.Background(), in...); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, c := range s.CallsOf("SendMessageBatch") {
		sizes = append(sizes, len(c.Entries))
	}
	if !reflect.DeepEqual(sizes, []int{2, 2, 1}) {
		t.Fatalf("batches of %v, want [2 2 1]", sizes)
	}
	if n := len(s.Messages(url)); n != 5 {
		t.Fatalf("queue holds %d messages, want 5", n)
	}
}

func TestEnqueueTooLarge(t *testing.T) {
	q, s, _ := newQueue(t)
	in := jobs(3)
	in[1].Event.Message = "BIGMESSAGE" + strings.Repeat("y", 300<<10)
	err := q.Enqueue(context.Background(), in...)
	if !errors.Is(err, sqsqueue.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	for _, want := range []string{"job-01", "256 KiB", "3 MiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "BIGMESSAGE") {
		t.Error("the error quotes the job")
	}
	if n := len(s.Calls()); n != 0 {
		t.Fatalf("%d requests made; nothing must be sent", n)
	}
}

func TestEnqueueRetriesFailedEntriesOnce(t *testing.T) {
	q, s, url := newQueue(t)
	failures := map[string]int{}
	s.FailEntries(func(op, _ string, e sqstest.Entry) bool {
		if e.ID != "3" {
			return false
		}
		failures[e.ID]++
		return failures[e.ID] == 1 // fails once, then succeeds
	})
	if err := q.Enqueue(context.Background(), jobs(5)...); err != nil {
		t.Fatal(err)
	}
	calls := s.CallsOf("SendMessageBatch")
	if len(calls) != 2 || len(calls[1].Entries) != 1 || calls[1].Entries[0].ID != "3" {
		t.Fatalf("calls %+v, want the batch then entry 3 alone", calls)
	}
	if n := len(s.Messages(url)); n != 5 {
		t.Fatalf("queue holds %d messages, want 5", n)
	}
}

func TestEnqueueReportsEntriesThatFailTwice(t *testing.T) {
	q, s, url := newQueue(t)
	s.FailEntries(func(_, _ string, e sqstest.Entry) bool { return e.ID == "1" || e.ID == "12" })
	in := jobs(15)
	in[1].Event.Message = "PRIVATE-1"
	err := q.Enqueue(context.Background(), in...)
	if err == nil {
		t.Fatal("no error")
	}
	const want = "sqs SendMessageBatch: 2 of 15 delivery jobs were not queued (InternalError)"
	if err.Error() != want {
		t.Fatalf("err = %q, want %q", err, want)
	}
	calls := s.CallsOf("SendMessageBatch")
	if len(calls) != 3 || len(calls[2].Entries) != 2 {
		t.Fatalf("%d calls; want two batches and one retry of the 2 failed entries", len(calls))
	}
	if n := len(s.Messages(url)); n != 13 {
		t.Fatalf("queue holds %d messages, want the 13 that did not fail", n)
	}
}

func TestEnqueueUnknownQueue(t *testing.T) {
	s := sqstest.New(t)
	q := sqsqueue.New(s.Client(), s.URL+"/000000000000/nope")
	err := q.Enqueue(context.Background(), jobs(1)...)
	if err == nil || !strings.Contains(err.Error(), "NonExistentQueue") {
		t.Fatalf("err = %v", err)
	}
}

// SQS refuses U+FFFF in a message; the job still arrives intact.
func TestEnqueueEscapesCharactersSQSRefuses(t *testing.T) {
	q, s, url := newQueue(t)
	in := jobs(1)
	in[0].Event.Message = "a\uFFFFb\uFFFEc"
	if err := q.Enqueue(context.Background(), in...); err != nil {
		t.Fatal(err)
	}
	b := s.Calls()[0].Entries[0].Body
	if strings.ContainsAny(b, "\uFFFF\uFFFE") {
		t.Fatalf("body holds a character SQS refuses: %q", b)
	}
	var got delivery.Job
	if err := json.Unmarshal([]byte(b), &got); err != nil || got.Event.Message != in[0].Event.Message {
		t.Fatalf("decoded message %q, %v", got.Event.Message, err)
	}
	// As the dispatch Lambda gets it.
	out, err := s.Client().ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage = %+v, %v", out, err)
	}
	got = delivery.Job{}
	if err := json.Unmarshal([]byte(aws.ToString(out.Messages[0].Body)), &got); err != nil || got.Event.Message != in[0].Event.Message {
		t.Fatalf("received message %q, %v", got.Event.Message, err)
	}
}
