package sqstest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// These tests pin what goaws does, so that an upgrade that changes it
// shows here first. None of them may call t.Parallel.

var ctx = context.Background()

func send(t *testing.T, c *sqs.Client, url, body string) string {
	t.Helper()
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.MessageId)
}

func receive(t *testing.T, c *sqs.Client, url string) []types.Message {
	t.Helper()
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Messages
}

func apiCode(err error) string {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return fmt.Sprintf("not an API error: %v", err)
	}
	return api.ErrorCode()
}

// Each test gets new queues, addressed at the front door, with ARNs in
// us-east-1, and they are gone when it ends.
func TestQueuesAreFreshPerTest(t *testing.T) {
	var name string
	t.Run("a", func(t *testing.T) {
		s := New(t)
		a, b := s.Queue("q"), s.Queue("q")
		if a == b {
			t.Fatalf("two queues share the URL %s", a)
		}
		for _, u := range []string{a, b} {
			if !strings.HasPrefix(u, s.URL+"/"+AccountID+"/q-") || !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
				t.Fatalf("queue URL %s, want one at the front door %s", u, s.URL)
			}
		}
		dlq := s.Queue("dlq")
		q := s.CreateQueue("q", map[string]string{"VisibilityTimeout": "7", "RedrivePolicy": RedrivePolicy(dlq, 3)})
		out, err := s.Client().GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(q), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		wantArn := "arn:aws:sqs:us-east-1:000000000000:" + q[strings.LastIndexByte(q, '/')+1:]
		if got := out.Attributes["QueueArn"]; got != wantArn || got != ARN(q) {
			t.Errorf("QueueArn %q, want %q", got, wantArn)
		}
		if got, want := out.Attributes["RedrivePolicy"], `{"maxReceiveCount":"3", "deadLetterTargetArn":"`+ARN(dlq)+`"}`; got != want {
			t.Errorf("RedrivePolicy %s, want %s", got, want)
		}
		if got := out.Attributes["VisibilityTimeout"]; got != "7" {
			t.Errorf("VisibilityTimeout %s, want 7", got)
		}
		name = a[strings.LastIndexByte(a, '/')+1:]
	})
	models.SyncQueues.RLock()
	_, left := models.SyncQueues.Queues[name]
	models.SyncQueues.RUnlock()
	if name == "" || left {
		t.Fatalf("queue %q is still there after its test", name)
	}
	// The next test may use goaws.
	New(t)
}

// Two tests using goaws at once: the second fails, saying why.
func TestParallelUseFails(t *testing.T) {
	New(t)
	other := &fakeTB{TB: t, name: "TestOther"}
	if s := New(other); s != nil || !strings.Contains(other.fatal, "must not run in parallel") ||
		!strings.Contains(other.fatal, "TestOther uses goaws while TestParallelUseFails does") {
		t.Fatalf("second New: %v, fatal %q", s, other.fatal)
	}
}

type fakeTB struct {
	testing.TB
	name, fatal string
}

func (f *fakeTB) Helper()                           {}
func (f *fakeTB) Name() string                      { return f.name }
func (f *fakeTB) Fatalf(format string, args ...any) { f.fatal = fmt.Sprintf(format, args...) }

// Message attributes survive the round trip, and the SDK's MD5 checks of
// body and attributes pass.
func TestMessageAttributes(t *testing.T) {
	s := New(t)
	c := s.Client()
	q := s.Queue("q")
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q), MessageBody: aws.String("hello"),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"reason": {DataType: aws.String("String"), StringValue: aws.String("permanent failure: 400")},
			"blob":   {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Messages(q)
	if len(got) != 1 || got[0].Body != "hello" || got[0].InFlight() ||
		got[0].Attributes["reason"].String() != "permanent failure: 400" || got[0].Attributes["reason"].DataType != "String" ||
		!slices.Equal(got[0].Attributes["blob"].BinaryValue, []byte{0, 1, 2, 255}) || got[0].Attributes["blob"].DataType != "Binary" {
		t.Fatalf("goaws holds %+v", got)
	}
	msgs := receive(t, c, q)
	if len(msgs) != 1 || aws.ToString(msgs[0].MessageAttributes["reason"].StringValue) != "permanent failure: 400" ||
		!slices.Equal(msgs[0].MessageAttributes["blob"].BinaryValue, []byte{0, 1, 2, 255}) {
		t.Fatalf("received %+v", msgs)
	}
}

// A received message is hidden for the visibility timeout and then comes
// back with a new receipt handle; ChangeMessageVisibility sets the
// timeout, and 0 ends it at once. ApproximateReceiveCount stays 1.
func TestVisibility(t *testing.T) {
	s := New(t)
	c := s.Client()
	q := s.Queue("q")
	id := send(t, c, q, "m")
	first := receive(t, c, q)
	if len(first) != 1 || aws.ToString(first[0].MessageId) != id {
		t.Fatalf("received %+v", first)
	}
	if m := s.Messages(q)[0]; !m.InFlight() || m.ReceiptHandle != aws.ToString(first[0].ReceiptHandle) {
		t.Fatalf("goaws holds %+v, want it in flight", m)
	}
	if again := receive(t, c, q); len(again) != 0 {
		t.Fatalf("a message in flight was received again")
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q), AttributeNames: []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	// SQS would say 0 visible; goaws counts every message it holds.
	if err != nil || attrs.Attributes["ApproximateNumberOfMessages"] != "1" || attrs.Attributes["ApproximateNumberOfMessagesNotVisible"] != "1" {
		t.Fatalf("GetQueueAttributes = %v, %v", attrs, err)
	}

	before := time.Now()
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(q), ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 1,
	}); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	if v := s.Messages(q)[0].VisibleAt; v.Before(before.Add(time.Second)) || v.After(after.Add(time.Second)) {
		t.Fatalf("visible at %v, want 1 s after the change (%v-%v)", v, before, after)
	}
	var second []types.Message
	s.WaitUntil("the message to come back", func() bool {
		second = receive(t, c, q)
		return len(second) > 0
	})
	if d := time.Since(before); d < time.Second {
		t.Fatalf("the message came back after %v, before its visibility timeout of 1 s", d)
	}
	if aws.ToString(second[0].MessageId) != id || aws.ToString(second[0].ReceiptHandle) == aws.ToString(first[0].ReceiptHandle) {
		t.Fatalf("redelivered %+v, want message %s with a new receipt handle", second[0], id)
	}
	for i, m := range [][]types.Message{first, second} {
		if got := m[0].Attributes["ApproximateReceiveCount"]; got != "1" {
			t.Errorf("receive %d: ApproximateReceiveCount %q; goaws said 1 until now", i+1, got)
		}
	}

	redelivered := s.Redeliver(q, Message{ID: id, ReceiptHandle: aws.ToString(second[0].ReceiptHandle)})
	if redelivered.ID != id || redelivered.Body != "m" || redelivered.ReceiptHandle == aws.ToString(second[0].ReceiptHandle) {
		t.Fatalf("Redeliver gave %+v", redelivered)
	}
}

// A message received maxReceiveCount times without being deleted moves to
// the dead-letter queue; here each receive ends with a visibility of 0.
func TestRedriveAfterMaxReceiveCount(t *testing.T) {
	s := New(t)
	c := s.Client()
	dlq := s.Queue("dlq")
	q := s.CreateQueue("q", map[string]string{"RedrivePolicy": RedrivePolicy(dlq, 2)})
	id := send(t, c, q, "m")
	for i := range 2 {
		msgs := receive(t, c, q)
		if len(msgs) != 1 || aws.ToString(msgs[0].MessageId) != id {
			t.Fatalf("receive %d: %+v", i+1, msgs)
		}
		if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(q), ReceiptHandle: msgs[0].ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(s.Messages(q)); n != 0 {
		t.Fatalf("the queue holds %d messages after 2 receives", n)
	}
	if got := s.Messages(dlq); len(got) != 1 || got[0].ID != id || got[0].Body != "m" || got[0].InFlight() {
		t.Fatalf("the DLQ holds %+v", got)
	}
}

// The SDK sees SendMessageBatch's results, which goaws names as the query
// protocol does.
func TestSendMessageBatchResults(t *testing.T) {
	s := New(t)
	q := s.Queue("q")
	out, err := s.Client().SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("one")},
		{Id: aws.String("b"), MessageBody: aws.String("two"), MessageAttributes: map[string]types.MessageAttributeValue{
			"k": {DataType: aws.String("String"), StringValue: aws.String("v")},
		}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	held := s.Messages(q)
	if len(out.Successful) != 2 || len(out.Failed) != 0 || len(held) != 2 {
		t.Fatalf("Successful %d, Failed %d, held %d; want 2, 0, 2", len(out.Successful), len(out.Failed), len(held))
	}
	for i, e := range out.Successful {
		if aws.ToString(e.Id) != []string{"a", "b"}[i] || aws.ToString(e.MessageId) != held[i].ID {
			t.Errorf("entry %d: id %s message %s, want %s", i, aws.ToString(e.Id), aws.ToString(e.MessageId), held[i].ID)
		}
	}
}

// FailEntries fails the entries it picks, which never reach goaws; the
// helpers' own requests are neither failed nor recorded.
func TestFailEntriesAndRecording(t *testing.T) {
	s := New(t)
	c := s.Client()
	q := s.Queue("q")
	kept := s.InFlight(q, "kept")
	if n := len(s.Calls()); n != 0 {
		t.Fatalf("the helpers' requests were recorded: %+v", s.Calls())
	}
	s.FailEntries(func(op, queueURL string, e Entry) bool {
		return queueURL == q && (e.Body == "fail" || e.ReceiptHandle == kept.ReceiptHandle)
	})
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("0"), MessageBody: aws.String("ok")},
		{Id: aws.String("1"), MessageBody: aws.String("fail")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 1 || aws.ToString(out.Successful[0].Id) != "0" || len(out.Failed) != 1 ||
		aws.ToString(out.Failed[0].Id) != "1" || aws.ToString(out.Failed[0].Code) != "InternalError" || out.Failed[0].SenderFault {
		t.Fatalf("SendMessageBatch = %+v", out)
	}
	all, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("x"), MessageBody: aws.String("fail")},
	}})
	if err != nil || len(all.Successful) != 0 || len(all.Failed) != 1 {
		t.Fatalf("SendMessageBatch of one failing entry = %+v, %v", all, err)
	}
	if got := s.Bodies(q); !slices.Equal(got, []string{"kept", "ok"}) {
		t.Fatalf("goaws holds %q, want the failed entries left out", got)
	}

	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q), Entries: []types.DeleteMessageBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: aws.String(kept.ReceiptHandle)},
		{Id: aws.String("1"), ReceiptHandle: aws.String("stale")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	var codes []string
	for _, f := range del.Failed {
		codes = append(codes, aws.ToString(f.Id)+":"+aws.ToString(f.Code))
	}
	slices.Sort(codes)
	// goaws' code for a receipt handle it does not know is "1".
	if len(del.Successful) != 0 || !slices.Equal(codes, []string{"0:InternalError", "1:1"}) {
		t.Fatalf("DeleteMessageBatch = %+v, failed %v", del, codes)
	}
	if n := len(s.Messages(q)); n != 2 {
		t.Fatalf("goaws holds %d messages, want 2: the failed delete had no effect", n)
	}

	var ops []string
	for _, c := range s.Calls() {
		ops = append(ops, c.Op+" "+strconv.Itoa(len(c.Entries)))
	}
	if want := []string{"SendMessageBatch 2", "SendMessageBatch 1", "DeleteMessageBatch 2"}; !slices.Equal(ops, want) {
		t.Fatalf("recorded %q, want %q", ops, want)
	}
	s.Reset()
	if n := len(s.Calls()); n != 0 {
		t.Fatalf("%d calls after Reset", n)
	}
}

// ListDeadLetterSourceQueues, which goaws lacks, answers from the queues'
// redrive policies.
func TestListDeadLetterSourceQueues(t *testing.T) {
	s := New(t)
	c := s.Client()
	dlq, orphan := s.Queue("dlq"), s.Queue("orphan")
	a := s.CreateQueue("a", map[string]string{"RedrivePolicy": RedrivePolicy(dlq, 5)})
	b := s.CreateQueue("b", map[string]string{"RedrivePolicy": RedrivePolicy(dlq, 5)})
	s.Queue("unrelated")
	for _, tc := range []struct {
		dlq  string
		want []string
	}{{dlq, []string{a, b}}, {orphan, nil}} {
		out, err := c.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(tc.dlq)})
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(out.QueueUrls)
		slices.Sort(got)
		if !slices.Equal(got, tc.want) {
			t.Errorf("sources of %s: %q, want %q", tc.dlq, got, tc.want)
		}
	}
	_, err := c.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(s.URL + "/000000000000/none")})
	if code := apiCode(err); code != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Fatalf("unknown queue: %s", code)
	}
}

// goaws answers with legacy error codes, which the SDK does not map to its
// modelled errors.
func TestGoawsErrors(t *testing.T) {
	s := New(t)
	c := s.Client()
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.URL + "/000000000000/none"), MessageBody: aws.String("x")})
	if code := apiCode(err); code != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("SendMessage to an unknown queue: %s", code)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(s.Queue("q")), ReceiptHandle: aws.String("nope"), VisibilityTimeout: 5})
	if code := apiCode(err); code != "AWS.SimpleQueueService.MessageNotInFlight" {
		t.Errorf("ChangeMessageVisibility of an unknown receipt: %s", code)
	}
}

// The front door refuses what SQS refuses and goaws would take, with the
// errors the SDK models; goaws never sees those requests.
func TestSQSLimits(t *testing.T) {
	s := New(t)
	c := s.Client()
	q := s.Queue("q")
	entries := func(n, size int) []types.SendMessageBatchRequestEntry {
		out := make([]types.SendMessageBatchRequestEntry, n)
		for i := range out {
			out[i] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(strings.Repeat("x", size))}
		}
		return out
	}
	_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: entries(11, 1)})
	var tooMany *types.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Errorf("SendMessageBatch of 11: %v", err)
	}
	_, err = c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q), Entries: entries(3, 100<<10)})
	var tooLong *types.BatchRequestTooLong
	if !errors.As(err, &tooLong) {
		t.Errorf("SendMessageBatch of 300 KiB: %v", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String(strings.Repeat("x", 256<<10+1))})
	if code := apiCode(err); code != "InvalidParameterValue" {
		t.Errorf("SendMessage of 256 KiB + 1: %s", code)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String("a\uFFFFb")})
	var contents *types.InvalidMessageContents
	if !errors.As(err, &contents) || !strings.Contains(err.Error(), "#xFFFF") {
		t.Errorf("SendMessage with U+FFFF: %v", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q), MessageBody: aws.String("ok"), MessageAttributes: map[string]types.MessageAttributeValue{
		"r": {DataType: aws.String("String"), StringValue: aws.String("\x00")},
	}})
	if !errors.As(err, &contents) {
		t.Errorf("SendMessage with NUL in an attribute: %v", err)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(q), ReceiptHandle: aws.String("h"), VisibilityTimeout: 43201})
	if code := apiCode(err); code != "InvalidParameterValue" {
		t.Errorf("ChangeMessageVisibility of 43201 s: %s", code)
	}
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q), MaxNumberOfMessages: 11})
	if code := apiCode(err); code != "InvalidParameterValue" {
		t.Errorf("ReceiveMessage of 11: %s", code)
	}
	if n := len(s.Messages(q)); n != 0 {
		t.Fatalf("goaws holds %d messages of refused requests", n)
	}
	if n := len(s.Calls()); n != 7 {
		t.Fatalf("%d requests recorded, want the 7 refused ones", n)
	}
}

// Requests not in SQS's JSON protocol, or unsigned, are refused and not
// recorded.
func TestProtocolChecks(t *testing.T) {
	s := New(t)
	for _, tc := range []struct {
		name, contentType, target, auth string
	}{
		{"query protocol", "application/x-www-form-urlencoded", "", "AWS4-HMAC-SHA256 Credential=x"},
		{"unsigned", "application/x-amz-json-1.0", "AmazonSQS.SendMessage", ""},
		{"other service", "application/x-amz-json-1.0", "secretsmanager.GetSecretValue", "AWS4-HMAC-SHA256 Credential=x"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("{}"))
		req.Header.Set("Content-Type", tc.contentType)
		if tc.target != "" {
			req.Header.Set("X-Amz-Target", tc.target)
		}
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", tc.name, resp.StatusCode)
		}
	}
	if n := len(s.Calls()); n != 0 {
		t.Fatalf("refused requests were recorded: %d", n)
	}
}

// InFlight receives the message it sent, whatever else is visible, and
// leaves the others visible; Redeliver hands the same message over again.
func TestInFlight(t *testing.T) {
	s := New(t)
	q := s.Queue("q")
	send(t, s.Client(), q, "a")
	s.Reset()
	m := s.InFlight(q, "b")
	held := s.Messages(q)
	if m.Body != "b" || len(held) != 2 || held[1].ID != m.ID || !held[1].InFlight() || held[1].ReceiptHandle != m.ReceiptHandle || held[0].InFlight() {
		t.Fatalf("InFlight gave %+v; goaws holds %+v", m, held)
	}
	again := s.Redeliver(q, m)
	if again.ID != m.ID || again.Body != "b" || again.ReceiptHandle == m.ReceiptHandle || s.Messages(q)[0].InFlight() {
		t.Fatalf("Redeliver gave %+v; goaws holds %+v", again, s.Messages(q))
	}
	if n := len(s.Calls()); n != 0 {
		t.Fatalf("the helpers' requests were recorded: %+v", s.Calls())
	}
}
