package awstest

// The SQS double, and the SQS checks it shares with internal/sqstest.

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

const sqsContentType = "application/x-amz-json-1.0"

// SQS limits, which Herald's code must respect.
const (
	// MaxBatchEntries is the most entries of one batch request.
	MaxBatchEntries = 10
	// MaxMessageBytes limits one message and the sum of a batch's messages.
	MaxMessageBytes = 256 << 10
	// MaxVisibilityTimeout is 12 hours, in seconds.
	MaxVisibilityTimeout = 43200
	// MaxWaitTimeSeconds is the longest long poll.
	MaxWaitTimeSeconds = 20
)

// SQSRequest is the JSON body of an SQS request, as far as the operations
// Herald calls have members.
type SQSRequest struct {
	QueueUrl                    string                      `json:"QueueUrl"`
	QueueName                   string                      `json:"QueueName"`
	MessageBody                 string                      `json:"MessageBody"`
	MessageAttributes           map[string]MessageAttribute `json:"MessageAttributes"`
	Entries                     []SQSRequestEntry           `json:"Entries"`
	ReceiptHandle               string                      `json:"ReceiptHandle"`
	VisibilityTimeout           *int32                      `json:"VisibilityTimeout"`
	MaxNumberOfMessages         *int32                      `json:"MaxNumberOfMessages"`
	WaitTimeSeconds             *int32                      `json:"WaitTimeSeconds"`
	MessageAttributeNames       []string                    `json:"MessageAttributeNames"`
	AttributeNames              []string                    `json:"AttributeNames"`
	MessageSystemAttributeNames []string                    `json:"MessageSystemAttributeNames"`
}

// SQSRequestEntry is an entry of SendMessageBatch or DeleteMessageBatch.
type SQSRequestEntry struct {
	Id                string                      `json:"Id"`
	MessageBody       string                      `json:"MessageBody"`
	MessageAttributes map[string]MessageAttribute `json:"MessageAttributes"`
	ReceiptHandle     string                      `json:"ReceiptHandle"`
}

// MessageAttribute is an SQS message attribute as the JSON protocol sends
// it.
type MessageAttribute struct {
	DataType    string  `json:"DataType"`
	StringValue *string `json:"StringValue,omitempty"`
	BinaryValue []byte  `json:"BinaryValue,omitempty"`
}

// String returns the attribute's string value, or "".
func (a MessageAttribute) String() string { return aws.ToString(a.StringValue) }

// SQSRefusal is the error answer of SQS to a request it refuses.
type SQSRefusal struct{ e *apiError }

func (r *SQSRefusal) Error() string { return r.e.typ + ": " + r.e.message }

// Write sends the answer, as SQS's JSON protocol does.
func (r *SQSRefusal) Write(w http.ResponseWriter) { writeError(w, sqsContentType, r.e) }

// ReadSQSRequest checks the protocol of an SQS request whose body was read
// into body, and decodes the body. It returns the operation named by
// X-Amz-Target.
func ReadSQSRequest(r *http.Request, body []byte) (op string, in *SQSRequest, refusal *SQSRefusal) {
	in = &SQSRequest{}
	op, e := decodeRequest(r, body, "AmazonSQS.", sqsContentType, in)
	if e != nil {
		return "", nil, &SQSRefusal{e}
	}
	return op, in, nil
}

// CheckSQSRequest checks the request of op against SQS's limits and
// character rules, and returns nil or SQS's answer to it. Whether the queue
// or receipt handle exists is not its business.
func CheckSQSRequest(op string, in *SQSRequest) *SQSRefusal {
	if e := checkSQS(op, in); e != nil {
		return &SQSRefusal{e}
	}
	return nil
}

func checkSQS(op string, in *SQSRequest) *apiError {
	switch op {
	case "SendMessage":
		return checkMessage(in.MessageBody, in.MessageAttributes)

	case "SendMessageBatch":
		if e := checkBatch(in.Entries); e != nil {
			return e
		}
		total := 0
		for _, e := range in.Entries {
			if e := checkMessage(e.MessageBody, e.MessageAttributes); e != nil {
				return e
			}
			total += messageSize(e.MessageBody, e.MessageAttributes)
		}
		if total > MaxMessageBytes {
			return &apiError{status: 400, typ: "com.amazonaws.sqs#BatchRequestTooLong",
				queryError: "AWS.SimpleQueueService.BatchRequestTooLong;Sender",
				message:    fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", MaxMessageBytes, total)}
		}

	case "DeleteMessageBatch":
		return checkBatch(in.Entries)

	case "ReceiveMessage":
		if n := in.MaxNumberOfMessages; n != nil && (*n < 1 || *n > MaxBatchEntries) {
			return invalidParameter("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", *n)
		}
		if n := in.WaitTimeSeconds; n != nil && (*n < 0 || *n > MaxWaitTimeSeconds) {
			return invalidParameter("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *n)
		}
		if v := in.VisibilityTimeout; v != nil && (*v < 0 || *v > MaxVisibilityTimeout) {
			return invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *v)
		}

	case "ChangeMessageVisibility":
		if v := in.VisibilityTimeout; v == nil || *v < 0 || *v > MaxVisibilityTimeout {
			return invalidParameter("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.", aws.ToInt32(v))
		}
	}
	return nil
}

func checkBatch(entries []SQSRequestEntry) *apiError {
	switch {
	case len(entries) == 0:
		return &apiError{status: 400, typ: "com.amazonaws.sqs#EmptyBatchRequest",
			queryError: "AWS.SimpleQueueService.EmptyBatchRequest;Sender", message: "There should be at least one entry in the request."}
	case len(entries) > MaxBatchEntries:
		return &apiError{status: 400, typ: "com.amazonaws.sqs#TooManyEntriesInBatchRequest",
			queryError: "AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender",
			message:    fmt.Sprintf("Maximum number of entries per request are 10. You have sent %d.", len(entries))}
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[e.Id] {
			return &apiError{status: 400, typ: "com.amazonaws.sqs#BatchEntryIdsNotDistinct",
				queryError: "AWS.SimpleQueueService.BatchEntryIdsNotDistinct;Sender", message: "Id " + e.Id + " repeated."}
		}
		seen[e.Id] = true
	}
	return nil
}

func checkMessage(body string, attrs map[string]MessageAttribute) *apiError {
	if body == "" {
		return invalidParameter("The request must contain the parameter MessageBody.")
	}
	if n := messageSize(body, attrs); n > MaxMessageBytes {
		return invalidParameter("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", MaxMessageBytes)
	}
	if r, ok := refusedRune(body); ok {
		return invalidContents(r, "the message body")
	}
	// Sorted, so that the answer does not depend on map order.
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		a := attrs[name]
		if a.DataType == "" || (a.StringValue == nil && a.BinaryValue == nil) {
			return invalidParameter("The message attribute '%s' must contain non-empty message attribute value and type.", name)
		}
		if r, ok := refusedRune(a.String()); ok {
			return invalidContents(r, "the message attribute '"+name+"'")
		}
	}
	return nil
}

// refusedRune finds the first character SQS does not allow in a message:
// it allows #x9, #xA, #xD, #x20 to #xD7FF, #xE000 to #xFFFD and #x10000 to
// #x10FFFF. Invalid UTF-8 counts as U+FFFD, which is allowed; the JSON
// decoder has replaced it already.
func refusedRune(s string) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r',
			r >= 0x20 && r <= 0xD7FF,
			r >= 0xE000 && r <= 0xFFFD,
			r >= 0x10000 && r <= utf8.MaxRune:
			continue
		}
		return r, true
	}
	return 0, false
}

func invalidContents(r rune, where string) *apiError {
	return &apiError{status: 400, typ: "com.amazonaws.sqs#InvalidMessageContents",
		queryError: "InvalidMessageContents;Sender",
		message: fmt.Sprintf("Invalid binary character '#x%X' was found in %s, the set of allowed characters is "+
			"#x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", r, where)}
}

func messageSize(body string, attrs map[string]MessageAttribute) int {
	n := len(body)
	for name, a := range attrs {
		n += len(name) + len(a.DataType) + len(aws.ToString(a.StringValue)) + len(a.BinaryValue)
	}
	return n
}

func invalidParameter(format string, args ...any) *apiError {
	return &apiError{status: 400, typ: "com.amazonaws.sqs#InvalidParameterValue",
		queryError: "InvalidParameterValue;Sender", message: fmt.Sprintf(format, args...)}
}

// SQS is a double of the SQS JSON API for SendMessage, SendMessageBatch,
// ReceiveMessage, DeleteMessageBatch and ChangeMessageVisibility. Queues
// exist once Queue made them; any other queue URL is answered
// QueueDoesNotExist, as SQS does.
type SQS struct {
	// URL is the endpoint, for BaseEndpoint.
	URL string

	// FailEntry, when set, is asked about every entry of SendMessageBatch
	// and DeleteMessageBatch; the entries it returns true for are answered
	// in Failed with code InternalError (SenderFault false), and have no
	// effect.
	FailEntry func(op, queueURL string, e SQSEntry) bool

	mu     sync.Mutex
	calls  []SQSCall
	queues map[string]*sqsQueue
	seq    int
}

// SQSCall is one recorded request.
type SQSCall struct {
	Op       string
	QueueURL string
	// Entries are the batch entries; SendMessage records its message as one
	// entry without ID.
	Entries []SQSEntry
	// ReceiptHandle and VisibilityTimeout of ChangeMessageVisibility;
	// VisibilityTimeout also of ReceiveMessage.
	ReceiptHandle     string
	VisibilityTimeout *int32
	// ReceiveMessage's parameters.
	MaxNumberOfMessages   *int32
	WaitTimeSeconds       *int32
	MessageAttributeNames []string
}

// SQSEntry is a message sent, or an entry of a batch request.
type SQSEntry struct {
	ID            string
	Body          string
	Attributes    map[string]MessageAttribute
	ReceiptHandle string
}

// Message is a message held by a queue of the double.
type Message struct {
	ID         string
	Body       string
	Attributes map[string]MessageAttribute
	// ReceiptHandle is set while the message is received and not deleted.
	ReceiptHandle string
	ReceiveCount  int
}

type sqsQueue struct {
	messages []*Message
	// sources are the queues whose redrive policy names this one, as
	// RedriveTo records them.
	sources []string
}

// NewSQS starts an SQS double for the test.
func NewSQS(tb testing.TB) *SQS {
	tb.Helper()
	s := &SQS{queues: map[string]*sqsQueue{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client returns a real SDK client for the double: static credentials,
// region us-east-1, message checksums validated.
func (s *SQS) Client(optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials,
	}, optFns...)
}

// Queue creates the queue name, if needed, and returns its URL.
func (s *SQS) Queue(name string) string {
	url := s.URL + "/" + AccountID + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queues[url] == nil {
		s.queues[url] = &sqsQueue{}
	}
	return url
}

// Inject puts a message into queueURL as received (in flight), as the
// Lambda service hands it to a function: the returned message carries the
// receipt handle and a receive count of receives. It is not recorded as a
// call.
func (s *SQS) Inject(queueURL, body string, receives int) Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueURL]
	if q == nil {
		panic("awstest: Inject into unknown queue " + queueURL)
	}
	m := s.newMessage(body, nil)
	m.ReceiveCount = receives
	m.ReceiptHandle = s.newHandle(m)
	q.messages = append(q.messages, m)
	return *m
}

// Messages returns copies of the messages queueURL holds, received or not.
func (s *SQS) Messages(queueURL string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueURL]
	if q == nil {
		return nil
	}
	out := make([]Message, len(q.messages))
	for i, m := range q.messages {
		out[i] = *m
	}
	return out
}

// Calls returns the requests recorded so far, in order.
func (s *SQS) Calls() []SQSCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallsOf returns the recorded requests of op.
func (s *SQS) CallsOf(op string) []SQSCall {
	var out []SQSCall
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

type batchFailure struct {
	Id          string `json:"Id"`
	SenderFault bool   `json:"SenderFault"`
	Code        string `json:"Code"`
	Message     string `json:"Message"`
}

func (s *SQS) serve(w http.ResponseWriter, r *http.Request) {
	var in SQSRequest
	op, e := readRequest(r, "AmazonSQS.", sqsContentType, &in)
	if e == nil {
		var out any
		out, e = s.do(op, &in)
		if e == nil {
			writeJSON(w, sqsContentType, out)
			return
		}
	}
	writeError(w, sqsContentType, e)
}

func (s *SQS) do(op string, in *SQSRequest) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	call := SQSCall{
		Op: op, QueueURL: in.QueueUrl, ReceiptHandle: in.ReceiptHandle, VisibilityTimeout: in.VisibilityTimeout,
		MaxNumberOfMessages: in.MaxNumberOfMessages, WaitTimeSeconds: in.WaitTimeSeconds,
		MessageAttributeNames: in.MessageAttributeNames,
	}
	for _, e := range in.Entries {
		call.Entries = append(call.Entries, SQSEntry{ID: e.Id, Body: e.MessageBody, Attributes: e.MessageAttributes, ReceiptHandle: e.ReceiptHandle})
	}
	if op == "SendMessage" {
		call.Entries = []SQSEntry{{Body: in.MessageBody, Attributes: in.MessageAttributes}}
	}
	s.calls = append(s.calls, call)

	q := s.queues[in.QueueUrl]
	if q == nil {
		return nil, &apiError{status: 400, typ: "com.amazonaws.sqs#QueueDoesNotExist",
			queryError: "AWS.SimpleQueueService.NonExistentQueue;Sender", message: "The specified queue does not exist."}
	}
	if e := checkSQS(op, in); e != nil {
		return nil, e
	}
	switch op {
	case "SendMessage":
		m := s.newMessage(in.MessageBody, in.MessageAttributes)
		q.messages = append(q.messages, m)
		return map[string]string{"MessageId": m.ID, "MD5OfMessageBody": md5Hex(m.Body)}, nil

	case "SendMessageBatch":
		successful, failed := []map[string]string{}, []batchFailure{}
		for i, e := range in.Entries {
			if s.FailEntry != nil && s.FailEntry(op, in.QueueUrl, call.Entries[i]) {
				failed = append(failed, batchFailure{Id: e.Id, Code: "InternalError", Message: "injected failure"})
				continue
			}
			m := s.newMessage(e.MessageBody, e.MessageAttributes)
			q.messages = append(q.messages, m)
			successful = append(successful, map[string]string{"Id": e.Id, "MessageId": m.ID, "MD5OfMessageBody": md5Hex(m.Body)})
		}
		return map[string]any{"Successful": successful, "Failed": failed}, nil

	case "ReceiveMessage":
		max := int32(1)
		if in.MaxNumberOfMessages != nil {
			max = *in.MaxNumberOfMessages
		}
		var out []map[string]any
		for _, m := range q.messages {
			if len(out) == int(max) {
				break
			}
			if m.ReceiptHandle != "" {
				continue // received and not deleted: hidden, for good
			}
			m.ReceiveCount++
			m.ReceiptHandle = s.newHandle(m)
			msg := map[string]any{
				"MessageId": m.ID, "ReceiptHandle": m.ReceiptHandle, "Body": m.Body, "MD5OfBody": md5Hex(m.Body),
			}
			if wantsAttribute(append(in.AttributeNames, in.MessageSystemAttributeNames...), "ApproximateReceiveCount") {
				msg["Attributes"] = map[string]string{"ApproximateReceiveCount": strconv.Itoa(m.ReceiveCount)}
			}
			attrs := map[string]MessageAttribute{}
			for name, a := range m.Attributes {
				if wantsAttribute(in.MessageAttributeNames, name) {
					attrs[name] = a
				}
			}
			if len(attrs) > 0 {
				msg["MessageAttributes"] = attrs
			}
			out = append(out, msg)
		}
		if len(out) == 0 {
			return map[string]any{}, nil
		}
		return map[string]any{"Messages": out}, nil

	case "DeleteMessageBatch":
		successful, failed := []map[string]string{}, []batchFailure{}
		for i, e := range in.Entries {
			if s.FailEntry != nil && s.FailEntry(op, in.QueueUrl, call.Entries[i]) {
				failed = append(failed, batchFailure{Id: e.Id, Code: "InternalError", Message: "injected failure"})
				continue
			}
			j := q.find(e.ReceiptHandle)
			if j < 0 {
				failed = append(failed, batchFailure{Id: e.Id, SenderFault: true, Code: "ReceiptHandleIsInvalid", Message: "The input receipt handle is invalid."})
				continue
			}
			q.messages = slices.Delete(q.messages, j, j+1)
			successful = append(successful, map[string]string{"Id": e.Id})
		}
		return map[string]any{"Successful": successful, "Failed": failed}, nil

	case "ListDeadLetterSourceQueues":
		return map[string]any{"queueUrls": append([]string{}, q.sources...)}, nil

	case "ChangeMessageVisibility":
		if q.find(in.ReceiptHandle) < 0 {
			return nil, &apiError{status: 400, typ: "com.amazonaws.sqs#ReceiptHandleIsInvalid",
				queryError: "ReceiptHandleIsInvalid;Sender", message: "The input receipt handle is invalid."}
		}
		return map[string]any{}, nil
	}
	return nil, &apiError{status: 400, typ: "UnknownOperationException", message: "awstest does not serve AmazonSQS." + op}
}

// RedriveTo records that the queue sourceURL sends its dead letters to
// dlqURL, which is all ListDeadLetterSourceQueues reports; no message moves.
func (s *SQS) RedriveTo(sourceURL, dlqURL string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[dlqURL]
	q.sources = append(q.sources, sourceURL)
}

func (s *SQS) newMessage(body string, attrs map[string]MessageAttribute) *Message {
	s.seq++
	return &Message{ID: fmt.Sprintf("msg-%04d", s.seq), Body: body, Attributes: attrs}
}

func (s *SQS) newHandle(m *Message) string {
	s.seq++
	return fmt.Sprintf("rh-%s-%d", m.ID, s.seq)
}

func (q *sqsQueue) find(receipt string) int {
	if receipt == "" {
		return -1
	}
	return slices.IndexFunc(q.messages, func(m *Message) bool { return m.ReceiptHandle == receipt })
}

func wantsAttribute(names []string, name string) bool {
	return slices.Contains(names, "All") || slices.Contains(names, ".*") || slices.Contains(names, name)
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}
