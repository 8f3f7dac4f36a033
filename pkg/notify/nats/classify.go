package nats

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"slices"

	"github.com/nats-io/nats.go"

	"github.com/heraldhq/herald/pkg/notify"
)

// permanent are the nats.go errors no later attempt can fix: the server
// refused the credentials or the subject's permissions, or the subject or
// payload is invalid (https://docs.nats.io/reference/reference-protocols/nats-protocol#-err).
var permanent = []error{
	nats.ErrAuthorization,
	nats.ErrAuthExpired,
	nats.ErrAuthRevoked,
	nats.ErrAccountAuthExpired,
	nats.ErrPermissionViolation,
	nats.ErrBadSubject,
	nats.ErrMaxPayload,
	nats.ErrSecureConnRequired,
	nats.ErrSecureConnWanted,
	nats.ErrNkeysNotSupported,
}

// classify decides whether err is worth another attempt and masks its
// text. Connection errors (nats.ErrNoServers for a refused connection, a
// closed or stale connection, timeouts) are retryable, as is anything
// unknown; credential, permission, TLS trust and subject errors are not.
func (n *Notifier) classify(err error) error {
	retry := true
	for _, p := range permanent {
		if errors.Is(err, p) {
			retry = false
		}
	}
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
	)
	if errors.As(err, &verify) || errors.As(err, &unknown) {
		retry = false
	}
	return masked(err, retry, n.secrets)
}

// masked is err classified, with every secret masked out of its text. It
// unwraps only to a context error, never to the original, whose fields may
// hold the server URL and its credentials.
func masked(err error, retry bool, secrets []notify.Secret) error {
	var cause error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		cause = context.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		cause = context.Canceled
	}
	return &notify.Error{Retryable: retry, Err: &maskedError{notify.Mask(err.Error(), secrets...), cause}}
}

type maskedError struct {
	msg   string
	cause error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.cause }

// sortedSecrets puts longer values first, so that a secret containing a
// shorter one is masked whole.
func sortedSecrets(s []notify.Secret) []notify.Secret {
	slices.SortFunc(s, func(a, b notify.Secret) int { return cmp.Compare(len(b), len(a)) })
	return s
}
