// Package sqstest runs SQS for tests: the goaws emulator
// (github.com/Admiral-Piett/goaws v0.5.4), embedded in the test process and
// served by httptest on 127.0.0.1, behind a thin front door of Herald's own.
// Real SDK clients talk to it through BaseEndpoint with static credentials.
//
// goaws models what Herald relies on SQS for: queues, message attributes,
// visibility timeouts (per queue, per ReceiveMessage and by
// ChangeMessageVisibility; 0 makes a message visible at once), and redrive:
// a message received maxReceiveCount times without being deleted moves to
// the dead-letter queue named by the queue's RedrivePolicy. Its periodic
// task, which ends visibility timeouts and moves messages, runs every Tick.
//
// The front door adds, before goaws sees a request, the protocol checks,
// limits and character rules of awstest.CheckSQSRequest, which goaws lacks;
// and it records every request for tests to check, can fail batch entries
// on demand (FailEntries), serves ListDeadLetterSourceQueues from goaws'
// redrive configuration, and renames the members of goaws'
// SendMessageBatch answer, which uses the query protocol's names, so that
// the SDK sees its Successful and Failed entries.
//
// What goaws does differently from SQS, and tests must not rely on:
//   - ApproximateReceiveCount stays 1 however often a message is received,
//     so a test that needs a receive count sets it in the Lambda record
//     itself, as the Lambda service would.
//   - The DLQ move happens when the last receive's visibility timeout ends
//     (on the next tick), or at once when ChangeMessageVisibility ends it
//     with 0, not on the next ReceiveMessage.
//   - GetQueueAttributes counts in-flight messages in
//     ApproximateNumberOfMessages too, and has no real timestamps.
//   - ReceiveMessage returns every message attribute, whatever
//     MessageAttributeNames asks for, and a short poll sees every message.
//   - Errors carry the legacy codes (AWS.SimpleQueueService.NonExistentQueue,
//     AWS.SimpleQueueService.MessageNotInFlight for an unknown receipt
//     handle; "1" for a failed DeleteMessageBatch entry), which the SDK
//     returns as a generic smithy.APIError, not its modelled error types.
//   - No retention period, long-poll sampling, FIFO throughput rules,
//     IAM or signature verification.
//
// goaws keeps its queues in package variables, so one emulator serves the
// whole test binary and each test gets fresh queues with unique names,
// deleted when it ends. Tests that use it must not run in parallel: do not
// call t.Parallel in them (New fails the second of two tests using it at
// once), and call New once per test.
package sqstest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Admiral-Piett/goaws/app/gosqs"
	"github.com/Admiral-Piett/goaws/app/models"
	"github.com/Admiral-Piett/goaws/app/router"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/sirupsen/logrus"

	"github.com/heraldhq/herald/internal/awstest"
)

const (
	// Region is the region of the clients and of the queue ARNs.
	Region = awstest.Region
	// AccountID appears in queue URLs and ARNs.
	AccountID = awstest.AccountID
	// Tick is how often goaws' periodic task ends visibility timeouts and
	// moves messages to dead-letter queues. A hidden message becomes
	// visible within a Tick after its visibility timeout ends.
	Tick = 100 * time.Millisecond
	// DefaultVisibilityTimeout is a new queue's, in seconds: SQS's default.
	DefaultVisibilityTimeout = 30
	// WaitTimeout bounds WaitUntil: generous, for busy CI machines.
	WaitTimeout = time.Minute
)

// internalHeader marks the requests the helpers make themselves: they are
// not recorded and never failed on purpose.
const internalHeader = "X-Sqstest-Internal"

// maxLogShown is how much of the end of goaws' log a failed test shows.
const maxLogShown = 16 << 10

// maxRequestBytes caps what the front door reads of a request; SQS's own
// limit is about 256 KiB of messages plus JSON.
const maxRequestBytes = 4 << 20

var credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "herald", SecretAccessKey: "herald", Source: "sqstest"}, nil
})

// door is the front door of the one goaws of the test binary.
type door struct {
	url   string
	goaws http.Handler
	// gate lets CreateQueue and DeleteQueue, and the removal of a test's
	// queues, run alone: goaws reads its queue map without its lock.
	gate sync.RWMutex

	mu    sync.Mutex
	owner *SQS // the test using goaws, if any
}

var (
	startOnce sync.Once
	theDoor   *door
	queueSeq  atomic.Int64
)

// start starts goaws and its periodic task, once per test binary; they run
// until the binary exits.
func start() {
	srv := httptest.NewUnstartedServer(nil) // listens on 127.0.0.1
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		panic("sqstest: " + err.Error())
	}
	// Queue URLs are http://Host:Port/AccountID/name: the front door's.
	// With a Region, goaws would put it in front of the host; sqstest
	// writes it into the ARNs instead (see CreateQueue).
	models.CurrentEnvironment = models.Environment{
		Host:      "127.0.0.1",
		Port:      port,
		AccountID: AccountID,
		QueueAttributeDefaults: models.EnvQueueAttributes{
			VisibilityTimeout:  DefaultVisibilityTimeout,
			MaximumMessageSize: awstest.MaxMessageBytes,
		},
	}
	d := &door{goaws: router.New()}
	// goaws logs through logrus' standard logger; its warnings and errors
	// go to the test that owns goaws, shown if it fails. Its info lines
	// hold every message body sent.
	logrus.SetOutput(d)
	logrus.SetLevel(logrus.WarnLevel)
	srv.Config.Handler = d
	srv.Start()
	d.url = srv.URL
	go gosqs.PeriodicTasks(Tick, make(chan bool))
	theDoor = d
}

// SQS is one test's view of goaws: its queues, its recorded requests.
type SQS struct {
	// URL is the endpoint, for BaseEndpoint or AWS_ENDPOINT_URL_SQS; the
	// queue URLs start with it.
	URL string

	tb       testing.TB
	door     *door
	internal *sqs.Client

	mu        sync.Mutex
	calls     []Call
	failEntry func(op, queueURL string, e Entry) bool
	queues    []string // names
	log       bytes.Buffer

	failMu sync.Mutex // held while failEntry runs
}

// Call is one recorded request.
type Call struct {
	Op       string
	QueueURL string
	// Entries are the batch entries; SendMessage records its message as one
	// entry without ID.
	Entries []Entry
	// ReceiptHandle and VisibilityTimeout of ChangeMessageVisibility;
	// VisibilityTimeout also of ReceiveMessage.
	ReceiptHandle     string
	VisibilityTimeout *int32
	// ReceiveMessage's parameters.
	MaxNumberOfMessages   *int32
	WaitTimeSeconds       *int32
	MessageAttributeNames []string
}

// Entry is a message sent, or an entry of a batch request.
type Entry struct {
	ID            string
	Body          string
	Attributes    map[string]MessageAttribute
	ReceiptHandle string
}

// MessageAttribute is an SQS message attribute.
type MessageAttribute = awstest.MessageAttribute

// Message is a message goaws holds.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]MessageAttribute
	// ReceiptHandle is the handle of the message's current receive; "" when
	// it is not in flight.
	ReceiptHandle string
	// VisibleAt is when an in-flight message's visibility timeout ends.
	VisibleAt time.Time
}

// InFlight reports whether the message is received and not yet visible
// again.
func (m Message) InFlight() bool { return m.ReceiptHandle != "" }

// New gives the test goaws, starting it on first use. The test's queues are
// deleted when it ends, and goaws' warnings and errors are shown if it
// failed. Tests that
// use it must not run in parallel, and call it once.
func New(tb testing.TB) *SQS {
	tb.Helper()
	startOnce.Do(start)
	d := theDoor
	d.mu.Lock()
	if o := d.owner; o != nil {
		d.mu.Unlock()
		tb.Fatalf("sqstest: %s uses goaws while %s does; goaws' state is global, so tests using it must not run in parallel, "+
			"and each calls sqstest.New once", tb.Name(), o.tb.Name())
		return nil
	}
	s := &SQS{URL: d.url, tb: tb, door: d}
	d.owner = s
	d.mu.Unlock()
	s.internal = s.Client(func(o *sqs.Options) {
		o.HTTPClient = &http.Client{Transport: internalTransport{}}
	})
	tb.Cleanup(s.close)
	return s
}

func (s *SQS) close() {
	d := s.door
	d.gate.Lock()
	models.SyncQueues.Lock()
	s.mu.Lock()
	for _, name := range s.queues {
		delete(models.SyncQueues.Queues, name)
	}
	s.mu.Unlock()
	models.SyncQueues.Unlock()
	d.gate.Unlock()

	d.mu.Lock()
	d.owner = nil
	d.mu.Unlock()
	if s.tb.Failed() {
		s.mu.Lock()
		log := s.log.String()
		s.mu.Unlock()
		if log == "" {
			return
		}
		if len(log) > maxLogShown {
			log = "…" + log[len(log)-maxLogShown:]
		}
		s.tb.Logf("goaws' warnings and errors:\n%s", log)
	}
}

// Client returns a real SDK client for goaws: static credentials, region
// us-east-1, message checksums validated.
func (s *SQS) Client(optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials,
	}, optFns...)
}

// Queue creates a fresh queue for the test, named name and a unique suffix,
// with the default attributes, and returns its URL.
func (s *SQS) Queue(name string) string {
	s.tb.Helper()
	return s.CreateQueue(name, nil)
}

// CreateQueue creates a fresh queue for the test, named name and a unique
// suffix, with the CreateQueue attributes attrs (see RedrivePolicy), and
// returns its URL. VisibilityTimeout defaults to 30 s and
// MaximumMessageSize to 256 KiB.
func (s *SQS) CreateQueue(name string, attrs map[string]string) string {
	s.tb.Helper()
	name = fmt.Sprintf("%s-%d", name, queueSeq.Add(1))
	out, err := s.internal.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		s.tb.Fatalf("sqstest: creating queue %s: %v", name, err)
	}
	s.mu.Lock()
	s.queues = append(s.queues, name)
	s.mu.Unlock()
	// goaws leaves the region out of ARNs when it has none configured.
	s.door.gate.Lock()
	models.SyncQueues.Lock()
	models.SyncQueues.Queues[name].Arn = ARN(name)
	models.SyncQueues.Unlock()
	s.door.gate.Unlock()
	return aws.ToString(out.QueueUrl)
}

// ARN is the ARN of the queue with the URL or name queue.
func ARN(queue string) string {
	return "arn:aws:sqs:" + Region + ":" + AccountID + ":" + queueName(queue)
}

// RedrivePolicy is the RedrivePolicy attribute that moves a message to the
// queue dlqURL once it was received maxReceiveCount times.
func RedrivePolicy(dlqURL string, maxReceiveCount int) string {
	b, _ := json.Marshal(map[string]string{"deadLetterTargetArn": ARN(dlqURL), "maxReceiveCount": strconv.Itoa(maxReceiveCount)})
	return string(b)
}

func queueName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

// InFlight sends body to the queue and receives it, as the Lambda service's
// poller does before it invokes a function: the message returned is in
// flight, with a receipt handle goaws knows, until the queue's visibility
// timeout ends. Other visible messages received with it are made visible
// again at once, which goaws counts as a receive of them. Neither request
// is recorded.
func (s *SQS) InFlight(queueURL, body string) Message {
	s.tb.Helper()
	sent, err := s.internal.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)})
	if err != nil {
		s.tb.Fatalf("sqstest: SendMessage: %v", err)
	}
	return s.receive(queueURL, aws.ToString(sent.MessageId))
}

// Redeliver makes the in-flight message m visible at once and receives it
// again, as SQS redelivers a message that was not deleted: the same id, a
// new receipt handle. Other visible messages are treated as by InFlight.
// Neither request is recorded.
func (s *SQS) Redeliver(queueURL string, m Message) Message {
	s.tb.Helper()
	s.release(queueURL, m.ReceiptHandle)
	return s.receive(queueURL, m.ID)
}

// receive receives the message id, which must be visible.
func (s *SQS) receive(queueURL, id string) Message {
	s.tb.Helper()
	out, err := s.internal.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: awstest.MaxBatchEntries, MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		s.tb.Fatalf("sqstest: ReceiveMessage: %v", err)
	}
	var got *types.Message
	for i, m := range out.Messages {
		if aws.ToString(m.MessageId) == id {
			got = &out.Messages[i]
			continue
		}
		s.release(queueURL, aws.ToString(m.ReceiptHandle))
	}
	if got == nil {
		s.tb.Fatalf("sqstest: message %s is not visible in %s", id, queueURL)
	}
	return Message{
		ID:            id,
		Body:          aws.ToString(got.Body),
		Attributes:    attributes(got.MessageAttributes),
		ReceiptHandle: aws.ToString(got.ReceiptHandle),
	}
}

// release ends the visibility timeout of the receive receiptHandle.
func (s *SQS) release(queueURL, receiptHandle string) {
	s.tb.Helper()
	_, err := s.internal.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(queueURL), ReceiptHandle: aws.String(receiptHandle), VisibilityTimeout: 0,
	})
	if err != nil {
		s.tb.Fatalf("sqstest: ChangeMessageVisibility: %v", err)
	}
}

func attributes(in map[string]types.MessageAttributeValue) map[string]MessageAttribute {
	if len(in) == 0 {
		return nil
	}
	out := map[string]MessageAttribute{}
	for name, a := range in {
		out[name] = MessageAttribute{DataType: aws.ToString(a.DataType), StringValue: a.StringValue, BinaryValue: a.BinaryValue}
	}
	return out
}

// Messages returns the messages goaws holds in the queue, in flight or
// not, in its order, as it holds them: it asks goaws' state, not the API,
// so nothing is received.
func (s *SQS) Messages(queueURL string) []Message {
	models.SyncQueues.RLock()
	defer models.SyncQueues.RUnlock()
	q := models.SyncQueues.Queues[queueName(queueURL)]
	if q == nil {
		return nil
	}
	out := make([]Message, len(q.Messages))
	for i, m := range q.Messages {
		out[i] = Message{ID: m.Uuid, Body: m.MessageBody, ReceiptHandle: m.ReceiptHandle}
		if m.ReceiptHandle != "" {
			out[i].VisibleAt = m.VisibilityTimeout
		}
		if len(m.MessageAttributes) > 0 {
			out[i].Attributes = map[string]MessageAttribute{}
			for name, a := range m.MessageAttributes {
				attr := MessageAttribute{DataType: a.DataType}
				if a.DataType == "Binary" {
					// goaws keeps the base64 of the JSON protocol.
					attr.BinaryValue, _ = base64.StdEncoding.DecodeString(a.BinaryValue)
				} else {
					attr.StringValue = aws.String(a.StringValue)
				}
				out[i].Attributes[name] = attr
			}
		}
	}
	return out
}

// Bodies returns the bodies of the messages goaws holds in the queue, in
// its order.
func (s *SQS) Bodies(queueURL string) []string {
	var out []string
	for _, m := range s.Messages(queueURL) {
		out = append(out, m.Body)
	}
	return out
}

// WaitUntil polls cond until it holds, and fails the test if it does not
// within WaitTimeout. what says what is awaited.
func (s *SQS) WaitUntil(what string, cond func() bool) {
	s.tb.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			s.tb.Fatalf("sqstest: still waiting after %v for %s", WaitTimeout, what)
		}
		time.Sleep(Tick / 2)
	}
}

// FailEntries sets a function that is asked about every entry of
// SendMessageBatch and DeleteMessageBatch requests the code under test
// makes; the entries it returns true for are answered in Failed with code
// InternalError (SenderFault false) and never reach goaws. nil fails none.
// Its calls never overlap, so it may keep state without a lock.
func (s *SQS) FailEntries(f func(op, queueURL string, e Entry) bool) {
	s.mu.Lock()
	s.failEntry = f
	s.mu.Unlock()
}

// Calls returns the requests recorded so far, in order.
func (s *SQS) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsOf returns the recorded requests of op.
func (s *SQS) CallsOf(op string) []Call {
	var out []Call
	for _, c := range s.Calls() {
		if c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Reset forgets the recorded requests.
func (s *SQS) Reset() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

type internalTransport struct{}

func (internalTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(internalHeader, "1")
	return http.DefaultTransport.RoundTrip(r)
}

// Write takes goaws' log lines.
func (d *door) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if o := d.owner; o != nil {
		o.mu.Lock()
		o.log.Write(p)
		o.mu.Unlock()
	}
	return len(p), nil
}

func (d *door) current() *SQS {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.owner
}

func (d *door) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	op, in, refusal := awstest.ReadSQSRequest(r, body)
	if refusal != nil {
		refusal.Write(w)
		return
	}
	var s *SQS // the test to record for and to fail entries of
	if r.Header.Get(internalHeader) == "" {
		s = d.current()
	}
	if s != nil {
		s.record(op, in)
	}
	if refusal := awstest.CheckSQSRequest(op, in); refusal != nil {
		refusal.Write(w)
		return
	}

	if op == "CreateQueue" || op == "DeleteQueue" {
		d.gate.Lock()
		defer d.gate.Unlock()
	} else {
		d.gate.RLock()
		defer d.gate.RUnlock()
	}

	switch op {
	case "ListDeadLetterSourceQueues":
		d.listDeadLetterSourceQueues(w, in.QueueUrl)
		return
	case "SendMessageBatch", "DeleteMessageBatch":
		var failed []batchFailure
		if s != nil {
			body, failed = s.injectFailures(op, in, body)
		}
		if body == nil { // every entry failed
			writeJSON(w, http.StatusOK, map[string]any{"Successful": []any{}, "Failed": failed})
			return
		}
		rec := d.forward(r, body)
		out := rec.Body.Bytes()
		if rec.Code == http.StatusOK {
			if out, err = batchResult(op, out, failed); err != nil {
				http.Error(w, "sqstest: "+err.Error(), http.StatusInternalServerError)
				return
			}
		}
		copyResponse(w, rec, out)
		return
	}
	rec := d.forward(r, body)
	copyResponse(w, rec, rec.Body.Bytes())
}

// forward has goaws answer r with body.
func (d *door) forward(r *http.Request, body []byte) *httptest.ResponseRecorder {
	r = r.Clone(r.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rec := httptest.NewRecorder()
	d.goaws.ServeHTTP(rec, r)
	return rec
}

func copyResponse(w http.ResponseWriter, rec *httptest.ResponseRecorder, body []byte) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-RequestId", "sqstest")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *SQS) record(op string, in *awstest.SQSRequest) {
	c := Call{
		Op: op, QueueURL: in.QueueUrl, ReceiptHandle: in.ReceiptHandle, VisibilityTimeout: in.VisibilityTimeout,
		MaxNumberOfMessages: in.MaxNumberOfMessages, WaitTimeSeconds: in.WaitTimeSeconds,
		MessageAttributeNames: in.MessageAttributeNames,
	}
	for _, e := range in.Entries {
		c.Entries = append(c.Entries, Entry{ID: e.Id, Body: e.MessageBody, Attributes: e.MessageAttributes, ReceiptHandle: e.ReceiptHandle})
	}
	if op == "SendMessage" {
		c.Entries = []Entry{{Body: in.MessageBody, Attributes: in.MessageAttributes}}
	}
	s.mu.Lock()
	s.calls = append(s.calls, c)
	s.mu.Unlock()
}

type batchFailure struct {
	Id          string `json:"Id"`
	SenderFault bool   `json:"SenderFault"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
}

// injectFailures asks the test's FailEntries function about each entry. It
// returns the body without the entries to fail, nil if none is left, and
// their failures.
func (s *SQS) injectFailures(op string, in *awstest.SQSRequest, body []byte) ([]byte, []batchFailure) {
	s.mu.Lock()
	fail := s.failEntry
	s.mu.Unlock()
	if fail == nil {
		return body, nil
	}
	var raw map[string]json.RawMessage
	var entries []json.RawMessage
	if json.Unmarshal(body, &raw) != nil || json.Unmarshal(raw["Entries"], &entries) != nil || len(entries) != len(in.Entries) {
		return body, nil // ReadSQSRequest decoded it; cannot happen
	}
	var keep []json.RawMessage
	var failed []batchFailure
	s.failMu.Lock()
	defer s.failMu.Unlock()
	for i, e := range in.Entries {
		if fail(op, in.QueueUrl, Entry{ID: e.Id, Body: e.MessageBody, Attributes: e.MessageAttributes, ReceiptHandle: e.ReceiptHandle}) {
			failed = append(failed, batchFailure{Id: e.Id, Code: "InternalError", Message: "injected failure"})
			continue
		}
		keep = append(keep, entries[i])
	}
	if len(keep) == 0 {
		return nil, failed
	}
	raw["Entries"], _ = json.Marshal(keep)
	body, _ = json.Marshal(raw)
	return body, failed
}

// batchResult is goaws' answer to a batch request as the JSON protocol has
// it, with the injected failures added. goaws answers SendMessageBatch with
// the query protocol's member names, SendMessageBatchResultEntry and
// BatchResultErrorEntry, which the SDK ignores.
func batchResult(op string, out []byte, injected []batchFailure) ([]byte, error) {
	var res struct {
		Successful  []json.RawMessage `json:"Successful"`
		Failed      []json.RawMessage `json:"Failed"`
		QuerySucc   []json.RawMessage `json:"SendMessageBatchResultEntry"`
		QueryFailed []json.RawMessage `json:"BatchResultErrorEntry"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		return nil, fmt.Errorf("goaws' answer to %s is not JSON: %w", op, err)
	}
	successful := append(res.Successful, res.QuerySucc...)
	failed := append(res.Failed, res.QueryFailed...)
	for _, f := range injected {
		b, _ := json.Marshal(f)
		failed = append(failed, b)
	}
	if successful == nil {
		successful = []json.RawMessage{}
	}
	if failed == nil {
		failed = []json.RawMessage{}
	}
	return json.Marshal(map[string]any{"Successful": successful, "Failed": failed})
}

// listDeadLetterSourceQueues answers ListDeadLetterSourceQueues, which goaws
// does not serve, from its redrive configuration: the queues whose
// RedrivePolicy names the queue.
func (d *door) listDeadLetterSourceQueues(w http.ResponseWriter, queueURL string) {
	models.SyncQueues.RLock()
	defer models.SyncQueues.RUnlock()
	dlq := models.SyncQueues.Queues[queueName(queueURL)]
	if dlq == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"Type": "Not Found", "Code": "AWS.SimpleQueueService.NonExistentQueue",
			"Message": "The specified queue does not exist for this wsdl version.",
		})
		return
	}
	urls := []string{}
	for _, q := range models.SyncQueues.Queues {
		if q.DeadLetterQueue == dlq {
			urls = append(urls, q.URL)
		}
	}
	slices.Sort(urls)
	writeJSON(w, http.StatusOK, map[string]any{"queueUrls": urls})
}
