package notify

import (
	"log/slog"
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
// first, as Flux trims the token.
func Mask(text string, secrets ...Secret) string {
	for _, s := range secrets {
		v := strings.TrimSpace(string(s))
		if v == "" {
			continue
		}
		text = strings.ReplaceAll(text, v, "*****")
	}
	return text
}
