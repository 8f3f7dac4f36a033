// Package awstest holds what Herald's tests need of the AWS APIs that they
// cannot run for real.
//
// Secrets Manager (awsJson1_1) is a small local HTTP double: real SDK
// clients talk to it through BaseEndpoint with static credentials, so the
// SDK's own serialisation, error decoding and checksum validation are
// exercised. It covers request and response shapes for exactly the
// operations Herald calls, the protocol checks (Content-Type, X-Amz-Target,
// a SigV4 Authorization header) and the error shapes the SDK decodes into
// its modelled errors. Every request is recorded so that tests can check
// it. It does NOT model AWS semantics: no secret versions beyond a counter,
// no IAM, no signature verification. Tests must not trust it for those.
//
// SQS runs in the goaws emulator (internal/sqstest). Of the SQS double that
// was here, sqs.go keeps the protocol checks, limits and character rules
// goaws lacks; sqstest applies them in front of goaws.
//
// DynamoDB is not here: tests use the official DynamoDB Local
// (internal/dynamotest).
package awstest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Region is the region of the clients the doubles hand out.
const Region = "us-east-1"

// AccountID appears in queue URLs and ARNs.
const AccountID = "000000000000"

// credentials are static dummy credentials: the doubles only check that a
// request is signed, not how.
var credentials = aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
	return aws.Credentials{AccessKeyID: "herald", SecretAccessKey: "herald", Source: "awstest"}, nil
})

// apiError is an error answer of the awsJson protocols.
type apiError struct {
	status int
	typ    string // the __type, e.g. "com.amazonaws.sqs#QueueDoesNotExist"
	// queryError, for SQS, is the legacy code and fault in the
	// x-amzn-query-error header, e.g. "AWS.SimpleQueueService.NonExistentQueue;Sender".
	queryError string
	message    string
}

// readRequest checks the protocol headers and decodes the JSON body into in.
// It returns the operation named by X-Amz-Target, or an error answer.
func readRequest(r *http.Request, targetPrefix, contentType string, in any) (string, *apiError) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return "", &apiError{status: 400, typ: "SerializationException", message: err.Error()}
	}
	return decodeRequest(r, body, targetPrefix, contentType, in)
}

// decodeRequest is readRequest of a body already read.
func decodeRequest(r *http.Request, body []byte, targetPrefix, contentType string, in any) (string, *apiError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", &apiError{status: 404, typ: "UnknownOperationException", message: "only POST / is served"}
	}
	if ct := r.Header.Get("Content-Type"); ct != contentType {
		return "", &apiError{status: 400, typ: "UnsupportedMediaType", message: "Content-Type must be " + contentType + ", got " + ct}
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		return "", &apiError{status: 400, typ: "MissingAuthenticationTokenException", message: "request is not signed"}
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), targetPrefix)
	if !ok || op == "" {
		return "", &apiError{status: 400, typ: "UnknownOperationException", message: "X-Amz-Target must start with " + targetPrefix}
	}
	if err := json.Unmarshal(body, in); err != nil {
		return "", &apiError{status: 400, typ: "SerializationException", message: "body is not the JSON of " + op + ": " + err.Error()}
	}
	return op, nil
}

func writeJSON(w http.ResponseWriter, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", "awstest")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, contentType string, e *apiError) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-RequestId", "awstest")
	if e.queryError != "" {
		w.Header().Set("X-Amzn-Query-Error", e.queryError)
	}
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.message})
}
