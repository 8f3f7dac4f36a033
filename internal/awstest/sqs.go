package awstest

// What is left of the hand-written SQS double, and why.
//
// Herald's SQS tests run against the goaws emulator (internal/sqstest),
// which models queues, message attributes, visibility timeouts,
// ChangeMessageVisibility and redrive to a dead-letter queue after
// maxReceiveCount. The double's model of a queue is gone. What stays here is
// what goaws v0.5.4 lacks and Herald's tests rely on; sqstest applies it to
// every request before goaws sees it:
//
//   - The protocol checks: the JSON protocol's Content-Type and X-Amz-Target
//     and a SigV4 Authorization header. goaws also accepts the query
//     protocol and unsigned requests.
//   - SQS's limits and character rules, answered with the error shapes the
//     SDK decodes into its modelled errors: 1-10 entries with distinct ids
//     per batch; 256 KiB per message (body and attributes) and per
//     SendMessageBatch in all; a non-empty body; attributes with a type and
//     a value; only the characters SQS allows in bodies and string
//     attributes; ReceiveMessage's MaxNumberOfMessages 1-10, WaitTimeSeconds
//     0-20 and visibility 0-43200 s, also for ChangeMessageVisibility.
//     goaws checks the batch entry count and ids only, and the size of
//     SendMessage alone; a ChangeMessageVisibility over 43200 s makes it
//     panic writing HTTP status 0, and the connection drops.
//
// Other gaps of goaws are filled by sqstest itself (ListDeadLetterSourceQueues,
// SendMessageBatch's results, failure injection) or documented there (a
// receive count that stays 1, legacy error codes).

import (
	"fmt"
	"net/http"
	"slices"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
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
