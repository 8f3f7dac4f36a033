package api

import (
	"net/url"
	"slices"
)

// Options Flux accepts on a Provider but ignores for some types (behaviour
// reference §6 and §4.2). Herald ignores them the same way, and says so.
var (
	// noProxy lists the types that never use spec.proxy or proxySecretRef.
	// googlepubsub, azureeventhub and azuredevops use it for token
	// acquisition only, and the github types for the App token only, so
	// they are not listed.
	noProxy = []string{"lark", "matrix", "sentry", "gitlab", "gitlabmergerequestcomment", "bitbucket", "bitbucketserver", "nats"}
	// noTLS lists the types that never use certSecretRef.
	noTLS = []string{"discord", "googlechat", "lark", "telegram", "nats", "googlepubsub", "azureeventhub"}
	// noAddress lists the types whose address Flux ignores.
	noAddress = map[string]string{
		"telegram": "telegram always posts to https://api.telegram.org",
	}
	// partialAddress lists the types that use only part of the address.
	partialAddress = map[string]string{
		"pagerduty": "pagerduty uses only the scheme and host of spec.address",
		"datadog":   "datadog uses only the scheme and host of spec.address",
		"zulip":     "zulip replaces the path of spec.address with /api/v1/messages",
		"bitbucket": "bitbucket ignores the host of spec.address and calls api.bitbucket.org",
	}
	// noChannel lists the types that ignore spec.channel although other
	// chat types use it.
	noChannel = []string{"discord"}
)

// IgnoresProxy reports whether Flux's provider of this type never uses a
// proxy; Herald's does not either.
func IgnoresProxy(providerType string) bool { return slices.Contains(noProxy, providerType) }

// IgnoresTLS reports whether Flux's provider of this type never uses the
// certSecretRef settings; Herald's does not either.
func IgnoresTLS(providerType string) bool { return slices.Contains(noTLS, providerType) }

// ignoredOptions warns about options that have no effect for the type.
func (r report) ignoredOptions(s *ProviderSpec) {
	if IgnoresProxy(s.Type) {
		if s.Proxy != "" {
			r.warnf("spec.proxy", "ignored: %s providers do not use a proxy", s.Type)
		}
		if s.ProxySecretRef != nil {
			r.warnf("spec.proxySecretRef", "ignored: %s providers do not use a proxy", s.Type)
		}
	}
	if s.CertSecretRef != nil && IgnoresTLS(s.Type) {
		r.warnf("spec.certSecretRef", "ignored: %s providers do not use custom TLS settings", s.Type)
	}
	if s.Address != "" {
		if why, ok := noAddress[s.Type]; ok {
			r.warnf("spec.address", "ignored: %s", why)
		} else if why, ok := partialAddress[s.Type]; ok && hasIgnoredPart(s.Type, s.Address) {
			r.warnf("spec.address", "partly ignored: %s", why)
		}
	}
	if s.Channel != "" && slices.Contains(noChannel, s.Type) {
		r.warnf("spec.channel", "ignored: %s providers post to the channel of their webhook", s.Type)
	}
}

// hasIgnoredPart reports whether address has a part its type ignores: a
// path or query for the types that keep only scheme and host, a host other
// than Bitbucket's for bitbucket.
func hasIgnoredPart(providerType, address string) bool {
	u, err := url.Parse(address)
	if err != nil {
		return false
	}
	if providerType == "bitbucket" {
		return u.Host != "" && u.Host != "bitbucket.org"
	}
	return (u.Path != "" && u.Path != "/") || u.RawQuery != "" && providerType != "zulip"
}
