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
)

// The double refuses what the real service refuses at the protocol level.
// The SQS checks are tested through internal/sqstest, which applies them.
func TestProtocolChecks(t *testing.T) {
	s := NewSecretsManager(t)
	for _, tc := range []struct {
		name, contentType, target, auth string
	}{
		{"wrong content type", "application/json", "secretsmanager.GetSecretValue", "AWS4-HMAC-SHA256 Credential=x"},
		{"unsigned", secretsContentType, "secretsmanager.GetSecretValue", ""},
		{"other service", secretsContentType, "AmazonSQS.SendMessage", "AWS4-HMAC-SHA256 Credential=x"},
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

// The SDK decodes the double's errors into its modelled error types.
func TestErrorsDecodeAsTheSDKModelsThem(t *testing.T) {
	ctx := context.Background()
	sm := NewSecretsManager(t)
	_, err := sm.Client().GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("none")})
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
