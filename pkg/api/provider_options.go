package api

// ignoredOptions warns about the options Flux accepts on a Provider but
// ignores for its type (behaviour reference §6 and §4.2). Herald ignores
// them the same way, and says so.
func (r report) ignoredOptions(s *ProviderSpec) {
	t := ProviderTypeOf(s.Type)
	if t.IgnoresProxy {
		if s.Proxy != "" {
			r.warnf("spec.proxy", "ignored: %s providers do not use a proxy", s.Type)
		}
		if s.ProxySecretRef != nil {
			r.warnf("spec.proxySecretRef", "ignored: %s providers do not use a proxy", s.Type)
		}
	}
	if s.CertSecretRef != nil && t.IgnoresTLS {
		r.warnf("spec.certSecretRef", "ignored: %s providers do not use custom TLS settings", s.Type)
	}
	if s.Address != "" && t.IgnoresAddressPart(s.Address) {
		if t.Address == NoAddress {
			r.warnf("spec.address", "ignored: %s", t.AddressNote)
		} else {
			r.warnf("spec.address", "partly ignored: %s", t.AddressNote)
		}
	}
	if s.Channel != "" && t.IgnoresChannel {
		r.warnf("spec.channel", "ignored: %s providers post to the channel of their webhook", s.Type)
	}
}
