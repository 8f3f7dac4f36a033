package azureeventhub

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azeventhubs/v2"
	"github.com/Azure/go-amqp"

	"github.com/heraldhq/herald/pkg/notify"
)

// jwtCredential hands the SDK the secret's token as it is, as Flux's
// PureJWT does. Its expiry is the JWT's exp claim, so the SDK asks again
// (and gets the same token) when it lapses; without one, an hour.
type jwtCredential struct {
	token   notify.Secret
	expires time.Time
}

func newJWTCredential(token notify.Secret) azcore.TokenCredential {
	c := &jwtCredential{token: token, expires: time.Now().Add(time.Hour)}
	parts := strings.Split(token.Reveal(), ".")
	if len(parts) == 3 {
		var claims struct {
			Exp int64 `json:"exp"`
		}
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil && json.Unmarshal(b, &claims) == nil && claims.Exp > 0 {
			c.expires = time.Unix(claims.Exp, 0)
		}
	}
	return c
}

func (c *jwtCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.token.Reveal(), ExpiresOn: c.expires}, nil
}

// permanentConditions are AMQP errors no retry can fix: a hub that does not
// exist, refused credentials or an event Event Hubs will not take
// (https://learn.microsoft.com/azure/event-hubs/event-hubs-amqp-troubleshoot).
var permanentConditions = []amqp.ErrCond{
	amqp.ErrCondNotFound, amqp.ErrCondUnauthorizedAccess, amqp.ErrCondNotAllowed,
	amqp.ErrCondNotImplemented, amqp.ErrCondInvalidField, amqp.ErrCondDecodeError,
	amqp.ErrCondPreconditionFailed, amqp.ErrCondMessageSizeExceeded, amqp.ErrCondResourceDeleted,
}

// classify decides whether err is worth another attempt and masks it. The
// SDK's *azeventhubs.Error codes say so for its own cases: unauthorized is
// permanent, a lost connection or ownership is not. AMQP conditions are
// judged by permanentConditions; timeouts and anything unknown are retried.
func (n *Notifier) classify(err error) error {
	retry := true
	var (
		eherr *azeventhubs.Error
		aerr  *amqp.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
	case errors.Is(err, azeventhubs.ErrEventDataTooLarge):
		retry = false
	case errors.As(err, &eherr):
		retry = eherr.Code != azeventhubs.ErrorCodeUnauthorizedAccess
	case errors.As(err, &aerr):
		retry = !slices.Contains(permanentConditions, aerr.Condition)
	}
	return notify.MaskError(err, retry, n.secrets...)
}
