package api

import (
	"fmt"
	"regexp"
	"strings"
)

// Kubernetes' own name and label rules (k8s.io/apimachinery/pkg/util/validation),
// restated so that the Lambda binaries need no Kubernetes imports. Each check
// returns "" when the value is valid, otherwise the reason.

var (
	dns1123Label     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dns1123Subdomain = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	qualifiedName    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	secretKey        = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
)

func checkSubdomain(s string) string {
	if len(s) > 253 || !dns1123Subdomain.MatchString(s) {
		return fmt.Sprintf("invalid value %q: must be a lowercase RFC 1123 subdomain: at most 253 characters of "+
			"'a-z', '0-9', '-' and '.', starting and ending with a letter or digit", s)
	}
	return ""
}

func checkLabel(s string) string {
	if len(s) > 63 || !dns1123Label.MatchString(s) {
		return fmt.Sprintf("invalid value %q: must be a lowercase RFC 1123 label: at most 63 characters of "+
			"'a-z', '0-9' and '-', starting and ending with a letter or digit", s)
	}
	return ""
}

const namePartRule = "at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit"

// checkLabelKey validates a label key: an optional DNS subdomain prefix and
// a slash, then a name part.
func checkLabelKey(k string) string {
	prefix, name, hasPrefix := strings.Cut(k, "/")
	if !hasPrefix {
		name, prefix = prefix, ""
	}
	switch {
	case hasPrefix && (len(prefix) > 253 || !dns1123Subdomain.MatchString(prefix)):
		return fmt.Sprintf("invalid label key %q: the prefix must be a lowercase RFC 1123 subdomain", k)
	case len(name) > 63 || !qualifiedName.MatchString(name):
		return fmt.Sprintf("invalid label key %q: the name must be %s", k, namePartRule)
	}
	return ""
}

func checkLabelValue(v string) string {
	if v != "" && (len(v) > 63 || !qualifiedName.MatchString(v)) {
		return fmt.Sprintf("invalid label value %q: must be empty or %s", v, namePartRule)
	}
	return ""
}

func checkSecretKey(k string) string {
	if len(k) > 253 || k == "." || k == ".." || !secretKey.MatchString(k) {
		return fmt.Sprintf("invalid key %q: must be at most 253 characters of letters, digits, '-', '_' and '.'", k)
	}
	return ""
}
