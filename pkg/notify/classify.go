package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/redirect"
)

// Classify is the one place that decides what an HTTP attempt's outcome
// means: nil for a 2xx, otherwise an *Error that says whether a later attempt
// could succeed. err is what http.Client.Do returned; resp and body are used
// only when err is nil, and body is the (capped) start of the response body.
// now resolves a Retry-After given as an HTTP-date.
//
// The rules are go-retryablehttp's, which Flux uses, plus 408: connection
// errors, context deadlines, 408, 429 and 5xx except 501 are retryable; TLS
// handshake and certificate failures, bad URL schemes, invalid headers,
// redirects to another host (see redirect.Check), redirect loops and every
// other status are not. The texts are Flux's, without the URL: the caller
// masks them before they leave the package.
func Classify(method string, resp *http.Response, body []byte, err error, now time.Time) error {
	if err != nil {
		return classifyTransport(method, err)
	}
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return nil
	}
	e := &Error{
		StatusCode: code,
		Retryable:  RetryableStatus(code),
		Err:        fmt.Errorf("request failed with status code %d: %s", code, strings.ToValidUTF8(string(body), "\uFFFD")),
	}
	if e.Retryable {
		e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), now)
	}
	return e
}

// RetryableStatus reports whether a response status is worth another
// attempt: 408 Request Timeout, 429 Too Many Requests and 5xx other than
// 501 Not Implemented, which a later attempt cannot change.
func RetryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests:
		return true
	case code == http.StatusNotImplemented:
		return false
	default:
		return code >= 500 && code <= 599
	}
}

// ParseRetryAfter reads a Retry-After header in either of its forms (RFC 9110
// §10.2.3): delay-seconds or an HTTP-date, the latter relative to now. It
// returns 0 when the header is absent, malformed or in the past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		// Clamp before converting, so a huge value cannot overflow.
		return time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, maxRetryAfter)
		}
	}
	return 0
}

// maxRetryAfter caps what a server can ask for. SQS cannot hide a message
// for longer than 12 hours, and the queue applies its own policy below that.
const maxRetryAfter = 12 * time.Hour

// permanentTransportErrors are the texts of net/http errors that no retry can
// fix, as go-retryablehttp matches them: they carry no typed error.
var permanentTransportErrors = []string{
	"unsupported protocol scheme", // address is not http(s)
	"invalid header field",        // a header name or value Go refuses to send
	"stopped after",               // "stopped after 10 redirects"
	redirect.RefusedText,          // a redirect.Error, flattened by an SDK
}

// classifyTransport classifies an error of http.Client.Do. net/http wraps
// it in a *url.Error whose text repeats the URL, which is the secret of most
// webhooks, so only the inner error is reported.
func classifyTransport(method string, err error) error {
	inner := err
	var ue *url.Error
	if errors.As(err, &ue) {
		inner = ue.Err
	}
	prefix := method + " request failed"
	var refused *redirect.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return Retryable(fmt.Errorf("%s: %w", prefix, context.DeadlineExceeded))
	case errors.Is(err, context.Canceled):
		// Our side gave up, e.g. a Lambda shutting down; the server may never
		// have seen the request, so another attempt is worth it.
		return Retryable(fmt.Errorf("%s: %w", prefix, context.Canceled))
	case errors.As(err, &refused):
		// The server will redirect again; its text names no path or query.
		return Permanent(fmt.Errorf("%s: %w", prefix, refused))
	}
	if reason, ok := tlsFailure(err); ok {
		return Permanent(fmt.Errorf("%s: %w", prefix, &connError{text: "TLS handshake failed: " + reason}))
	}
	text := inner.Error()
	for _, p := range permanentTransportErrors {
		if strings.Contains(text, p) {
			return Permanent(fmt.Errorf("%s: %w", prefix, &connError{text: text}))
		}
	}
	var ne net.Error
	timeout := errors.As(err, &ne) && ne.Timeout()
	return Retryable(fmt.Errorf("%s: %w", prefix, &connError{text: text, timeout: timeout}))
}

// tlsFailure says why a TLS handshake failed, when err is such a failure:
// a certificate that does not verify (unknown authority, another name,
// expired), a server that does not speak TLS on the port, a server that
// refused the handshake with an alert (our client certificate, a protocol
// version). Each is the Provider's address, CA or certificate being wrong,
// which no retry fixes. A handshake that timed out or lost its connection
// is not one: a later attempt may succeed.
func tlsFailure(err error) (reason string, ok bool) {
	var (
		verify   *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		system   x509.SystemRootsError
		record   tls.RecordHeaderError
		alert    tls.AlertError
		op       *net.OpError
	)
	switch {
	case errors.As(err, &unknown):
		return x509Reason(unknown), true
	case errors.As(err, &hostname):
		return x509Reason(hostname), true
	case errors.As(err, &invalid):
		return x509Reason(invalid), true
	case errors.As(err, &system):
		return x509Reason(system), true
	case errors.As(err, &verify):
		// Another verification failure, such as the macOS verifier's.
		return x509Reason(verify.Err), true
	case errors.As(err, &record):
		return "the server does not speak TLS on this port (" + strings.TrimPrefix(record.Msg, "tls: ") + ")", true
	case errors.As(err, &alert):
		// An alert this side sent, e.g. for a protocol version it refuses.
		return alert.Error(), true
	case errors.As(err, &op) && op.Op == "remote error":
		// An alert the server sent: it refused our certificate, or the
		// versions or ciphers do not meet.
		return op.Error(), true
	}
	text := unwrapURLError(err).Error()
	for _, p := range tlsFailureTexts {
		if strings.Contains(text, p) {
			return strings.TrimPrefix(strings.TrimPrefix(text, "http: "), "net/http: "), true
		}
	}
	return "", false
}

// tlsFailureTexts are the TLS failures that carry no typed error.
var tlsFailureTexts = []string{
	"server gave HTTP response to HTTPS client",       // net/http's reading of a RecordHeaderError
	"certificate is not trusted",                      // macOS verifier
	"remote error: tls:",                              // an alert, when an SDK flattened the error
	"tls: failed to verify",                           // a verification failure, likewise
	"x509: ",                                          // a certificate error, likewise
	"first record does not look like a TLS handshake", // a RecordHeaderError, likewise
}

// x509Reason is the text of a certificate error without crypto's prefixes.
func x509Reason(err error) string {
	return strings.TrimPrefix(strings.TrimPrefix(err.Error(), "tls: failed to verify certificate: "), "x509: ")
}

// connError is a failure to reach a server or to read its answer. Its text
// is the transport's, without the URL that net/http puts around it;
// timeout says a deadline of the transport (dial, TLS handshake, response
// header) ran out.
type connError struct {
	text    string
	timeout bool
}

func (e *connError) Error() string { return e.text }

func isTLSTrustError(err error) bool {
	_, ok := tlsFailure(err)
	return ok
}

// Outcome turns the error of one attempt into Notify's results: nil is
// success, and anything else is retried as IsRetryable says.
func Outcome(err error) (retry bool, _ error) {
	if err == nil {
		return false, nil
	}
	return IsRetryable(err), err
}

// Failure reasons: the small, fixed set of label values that says why a
// delivery attempt failed, for metrics and logs.
const (
	ReasonRateLimited = "rate_limited" // 429, or a host's own rate-limit answer
	ReasonClientError = "client_error" // another 4xx, or a request Herald could not build
	ReasonServerError = "server_error" // 5xx
	ReasonTimeout     = "timeout"      // a deadline ran out before an answer
	ReasonConnection  = "connection"   // no answer: DNS, TCP, TLS, a closed connection
	ReasonConfig      = "config"       // the Provider, its secret or the config is missing or wrong
)

// FailureReason classifies a failed attempt's error into one of the
// Reason constants. Errors that carry no status and are no transport
// failure, such as an event a provider cannot render, are client errors.
func FailureReason(err error) string {
	var e *Error
	errors.As(err, &e)
	switch {
	case e != nil && e.StatusCode == http.StatusTooManyRequests,
		e != nil && e.StatusCode == http.StatusForbidden && e.Retryable:
		return ReasonRateLimited
	case e != nil && e.StatusCode == http.StatusRequestTimeout, errors.Is(err, context.DeadlineExceeded), isTimeout(err):
		return ReasonTimeout
	case e != nil && e.StatusCode >= 500:
		return ReasonServerError
	case e != nil && e.StatusCode >= 400:
		return ReasonClientError
	case isTransportError(err):
		return ReasonConnection
	}
	return ReasonClientError
}

// isTimeout reports whether err is a transport's timeout.
func isTimeout(err error) bool {
	var (
		ce *connError
		ne net.Error
	)
	return errors.As(err, &ce) && ce.timeout || errors.As(err, &ne) && ne.Timeout()
}

// isTransportError reports whether err is a failure to reach the server or
// to read its answer, as http.Client.Do and the SDKs' transports report it.
func isTransportError(err error) bool {
	var (
		ce *connError
		ue *url.Error
		ne net.Error
	)
	return errors.As(err, &ce) || errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || isTLSTrustError(err) ||
		errors.Is(err, context.Canceled)
}
