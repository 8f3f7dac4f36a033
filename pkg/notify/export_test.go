package notify

import "strings"

// IsAuthScheme reports whether v is only an HTTP authentication scheme
// ("Bearer"), which masking leaves readable: it is no secret on its own.
func IsAuthScheme(v string) bool { return authSchemes[strings.ToLower(strings.TrimSpace(v))] }
