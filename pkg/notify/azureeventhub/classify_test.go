package azureeventhub

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/go-amqp"

	"github.com/heraldhq/herald/pkg/notify"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		name  string
		err   error
		retry bool
	}{
		{"unauthorized", &azeventhubs.Error{Code: azeventhubs.ErrorCodeUnauthorizedAccess}, false},
		{"connection lost", &azeventhubs.Error{Code: azeventhubs.ErrorCodeConnectionLost}, true},
		{"hub not found", &amqp.Error{Condition: amqp.ErrCondNotFound}, false},
		{"message too large", &amqp.Error{Condition: amqp.ErrCondMessageSizeExceeded}, false},
		{"server busy", &amqp.Error{Condition: "com.microsoft:server-busy"}, true},
		{"internal", &amqp.Error{Condition: amqp.ErrCondInternalError}, true},
		{"event too large", azeventhubs.ErrEventDataTooLarge, false},
		{"deadline", context.DeadlineExceeded, true},
		{"unknown", errors.New("dial tcp: connection refused"), true},
	}
	n := &Notifier{secrets: []notify.Secret{"s3cr3t"}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := n.classify(fmt.Errorf("failed to send msg: %w", tc.err))
			if got := notify.IsRetryable(err); got != tc.retry {
				t.Errorf("retryable = %v, want %v (%v)", got, tc.retry, err)
			}
		})
	}
	err := n.classify(fmt.Errorf("key s3cr3t: %w", context.DeadlineExceeded))
	if err.Error() != "key *****: context deadline exceeded" || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("masked error %q", err)
	}
}

func TestJWTCredential(t *testing.T) {
	enc := base64.RawURLEncoding.EncodeToString
	token := enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(`{"exp":1893456000}`)) + ".sig"
	tok, err := newJWTCredential(notify.Secret(token)).GetToken(context.Background(), policy.TokenRequestOptions{})
	if err != nil || tok.Token != token || !tok.ExpiresOn.Equal(time.Unix(1893456000, 0)) {
		t.Errorf("token %+v, err %v", tok, err)
	}
	// Not a JWT: handed over as it is, valid for an hour.
	tok, _ = newJWTCredential("opaque").GetToken(context.Background(), policy.TokenRequestOptions{})
	if tok.Token != "opaque" || time.Until(tok.ExpiresOn) < 59*time.Minute {
		t.Errorf("token %+v", tok)
	}
}
