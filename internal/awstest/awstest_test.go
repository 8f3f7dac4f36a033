package awstest

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// The doubles refuse what the real services refuse at the protocol level.
func TestProtocolChecks(t *testing.T) {
	s := NewSQS(t)
	for _, tc := range []struct {
		name, contentType, target, auth string
	}{
		{"wrong content type", "application/json", "AmazonSQS.SendMessage", "AWS4-HMAC-SHA256 Credential=x"},
		{"unsigned", sqsContentType, "AmazonSQS.SendMessage", ""},
		{"other service", sqsContentType, "secretsmanager.GetSecretValue", "AWS4-HMAC-SHA256 Credential=x"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader("{}"))
		req.Header.Set("Content-Type", tc.contentType)
		req.Header.Set("X-Amz-Target", tc.target)
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

// The SDK decodes the doubles' errors into its modelled error types.
func TestErrorsDecodeAsTheSDKModelsThem(t *testing.T) {
	ctx := context.Background()
	s := NewSQS(t)
	_, err := s.Client().SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.URL + "/0/none"), MessageBody: aws.String("x")})
	var missing *sqstypes.QueueDoesNotExist
	if !errors.As(err, &missing) {
		t.Errorf("SendMessage to an unknown queue: %v", err)
	}
	url := s.Queue("q")
	_, err = s.Client().ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(url), ReceiptHandle: aws.String("nope"), VisibilityTimeout: 5})
	var badHandle *sqstypes.ReceiptHandleIsInvalid
	if !errors.As(err, &badHandle) {
		t.Errorf("ChangeMessageVisibility of an unknown receipt: %v", err)
	}
	entries := make([]sqstypes.SendMessageBatchRequestEntry, 11)
	for i := range entries {
		entries[i] = sqstypes.SendMessageBatchRequestEntry{Id: aws.String(string(rune('a' + i))), MessageBody: aws.String("x")}
	}
	_, err = s.Client().SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
	var tooMany *sqstypes.TooManyEntriesInBatchRequest
	if !errors.As(err, &tooMany) {
		t.Errorf("SendMessageBatch of 11: %v", err)
	}
	_, err = s.Client().PurgeQueue(ctx, &sqs.PurgeQueueInput{QueueUrl: aws.String(url)})
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() != "UnknownOperationException" {
		t.Errorf("an operation the double does not serve: %v", err)
	}

	sm := NewSecretsManager(t)
	_, err = sm.Client().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("none")})
	var notFound *smtypes.ResourceNotFoundException
	if !errors.As(err, &notFound) {
		t.Errorf("GetSecretValue of an unknown secret: %v", err)
	}
	sm.Set("s", "{}")
	_, err = sm.Client().CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String("s"), SecretString: aws.String("{}")})
	var exists *smtypes.ResourceExistsException
	if !errors.As(err, &exists) {
		t.Errorf("CreateSecret of an existing secret: %v", err)
	}
}

// A received message is hidden until deleted, and carries what the SDK
// validates (the body's MD5) and what was asked for.
func TestReceiveAndDelete(t *testing.T) {
	ctx := context.Background()
	s := NewSQS(t)
	c := s.Client()
	url := s.Queue("q")
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(url), MessageBody: aws.String("hello"),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{"a": {DataType: aws.String("String"), StringValue: aws.String("b")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage = %+v, %v", out, err)
	}
	m := out.Messages[0]
	if aws.ToString(m.Body) != "hello" || aws.ToString(m.MessageAttributes["a"].StringValue) != "b" {
		t.Fatalf("message %+v", m)
	}
	if again, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)}); len(again.Messages) != 0 {
		t.Fatal("a received message was received again")
	}
	del, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: []sqstypes.DeleteMessageBatchRequestEntry{
		{Id: aws.String("0"), ReceiptHandle: m.ReceiptHandle},
		{Id: aws.String("1"), ReceiptHandle: aws.String("stale")},
	}})
	if err != nil || len(del.Successful) != 1 || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Fatalf("DeleteMessageBatch = %+v, %v", del, err)
	}
	if n := len(s.Messages(url)); n != 0 {
		t.Fatalf("%d messages left", n)
	}
}
