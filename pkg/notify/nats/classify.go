package nats

import (
	"crypto/tls"
	"crypto/x509"
	"errors"

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
	return notify.MaskError(err, retry, n.secrets...)
}
