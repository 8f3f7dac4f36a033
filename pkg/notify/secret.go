package notify

import (
	"cmp"
	"log/slog"
	"slices"
	"strings"
)

// Secret is a value that must never reach a log line, an error or any output
// but the request that needs it. Every way of printing it gives "<secret>".
type Secret string

const redacted = "<secret>"

// Reveal returns the value, for the one place that sends it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer, so %s and %v print "<secret>".
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v prints "<secret>".
func (s Secret) GoString() string { return redacted }

// MarshalText implements encoding.TextMarshaler for JSON and YAML output.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Mask replaces every occurrence of each non-empty secret value in text with
// "*****", as Flux masks its token in surfaced errors. Values are trimmed
// first, as Flux trims the token, and the longest is masked first, so that a
// secret containing a shorter one is masked whole.
func Mask(text string, secrets ...Secret) string {
	values := make([]string, 0, len(secrets))
	for _, s := range secrets {
		if v := strings.TrimSpace(string(s)); v != "" {
			values = append(values, v)
		}
	}
	slices.SortFunc(values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, v := range values {
		text = strings.ReplaceAll(text, v, "*****")
	}
	return text
}

// MaskError classifies err and masks every secret out of its text, for
// providers whose SDK reports errors the shared poster never saw. The result
// unwraps only to a context error, never to err, whose fields may hold the
// server's URL and credentials.
func MaskError(err error, retry bool, secrets ...Secret) *Error {
	return &Error{Retryable: retry, Err: newMaskedError(err, secrets)}
}
