package googlepubsub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"cloud.google.com/go/auth"
	"cloud.google.com/go/auth/credentials"
	pubsub "cloud.google.com/go/pubsub/v2/apiv1"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/heraldhq/herald/pkg/notify"
)

// authOptions reads the secret's token as JSON credentials, as Flux's
// option.WithCredentialsJSON does, of the type the JSON declares. Tokens
// are fetched through cfg.HTTPClient, so a proxy applies to them as in
// Flux. Without a token the client finds the application default
// credentials (GOOGLE_APPLICATION_CREDENTIALS, e.g. workload identity
// federation from AWS), Herald's stand-in for Flux's workload identity.
func authOptions(cfg notify.Config) ([]option.ClientOption, error) {
	if cfg.Token == "" {
		return nil, nil
	}
	data := []byte(cfg.Token.Reveal())
	var file struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(data, &file); err != nil || file.Type == "" {
		return nil, errors.New("invalid GCP credentials in secret token: not a JSON credentials file")
	}
	if !slices.Contains(credTypes, credentials.CredType(file.Type)) {
		// Not quoted: the value is part of the secret.
		return nil, errors.New("invalid GCP credentials in secret token: unsupported type")
	}
	creds, err := credentials.NewCredentialsFromJSON(credentials.CredType(file.Type), data, &credentials.DetectOptions{
		Scopes: pubsub.DefaultAuthScopes(),
		Client: cfg.HTTPClient,
	})
	if err != nil {
		// The auth library's errors name the field that is wrong, not its value.
		return nil, fmt.Errorf("invalid GCP credentials in secret token: %w", err)
	}
	return []option.ClientOption{option.WithAuthCredentials(creds)}, nil
}

// credTypes are the JSON credentials the auth library reads.
var credTypes = []credentials.CredType{
	credentials.ServiceAccount, credentials.AuthorizedUser, credentials.ExternalAccount,
	credentials.ImpersonatedServiceAccount, credentials.GDCHServiceAccount, credentials.ExternalAccountAuthorizedUser,
}

// retryable are the gRPC codes on which the SDK retries Publish
// (defaultTopicAdminCallOptions in cloud.google.com/go/pubsub/v2/apiv1) and
// so deems transient. Every other code (InvalidArgument, NotFound for a
// missing topic, PermissionDenied, Unauthenticated, …) is permanent.
var retryable = []codes.Code{
	codes.Aborted, codes.Canceled, codes.Internal, codes.ResourceExhausted,
	codes.Unknown, codes.Unavailable, codes.DeadlineExceeded,
}

// classify decides whether err is worth another attempt and masks it.
// A token endpoint's reply (auth.Error) is judged by its HTTP status.
func (n *Notifier) classify(err error) error {
	retry := true
	var aerr *auth.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
	case errors.As(err, &aerr) && aerr.Response != nil:
		retry = notify.RetryableStatus(aerr.Response.StatusCode)
	default:
		if s, ok := status.FromError(err); ok {
			retry = slices.Contains(retryable, s.Code())
		}
	}
	return notify.MaskError(err, retry, n.secrets...)
}
