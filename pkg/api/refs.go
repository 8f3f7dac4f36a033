package api

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

type objKey struct{ kind, namespace, name string }

// entry is one object of the set as a reference target.
type entry struct {
	cluster string
	secret  *Secret
}

type validator struct {
	opts  ValidateOptions
	index map[objKey][]entry
	seen  map[objKey]map[string]Source // for duplicates, by cluster
	res   Result
}

func newValidator(cfg *Config, opts ValidateOptions) *validator {
	v := &validator{
		opts:  opts,
		index: map[objKey][]entry{},
		seen:  map[objKey]map[string]Source{},
	}
	add := func(kind string, m ObjectMeta, s *Secret) {
		k := objKey{kind, m.Namespace, m.Name}
		v.index[k] = append(v.index[k], entry{cluster: m.Cluster(), secret: s})
	}
	for _, p := range cfg.Providers {
		add(KindProvider, p.Metadata, nil)
	}
	for i := range cfg.Secrets {
		add(KindSecret, cfg.Secrets[i].Metadata, &cfg.Secrets[i])
	}
	return v
}

// firstOf records an object and reports whether one with the same kind,
// cluster scope, namespace and name came before it, and where.
func (v *validator) firstOf(kind string, m ObjectMeta, src Source) (Source, bool) {
	k := objKey{kind, m.Namespace, m.Name}
	if v.seen[k] == nil {
		v.seen[k] = map[string]Source{}
	}
	first, dup := v.seen[k][m.Cluster()]
	if !dup {
		v.seen[k][m.Cluster()] = src
	}
	return first, dup
}

// resolve finds the object a reference names in the referrer's namespace
// and reports a missing one. An object without the cluster label serves
// every cluster; one with it serves only that cluster, so it cannot serve a
// referrer that applies to every cluster. The most specific match wins.
func (r report) resolve(field, kind, name string) *entry {
	cluster := r.meta.Cluster()
	var best *entry
	var others []string
	for i, e := range r.v.index[objKey{kind, r.meta.Namespace, name}] {
		switch {
		case e.cluster == cluster:
			return &r.v.index[objKey{kind, r.meta.Namespace, name}][i]
		case e.cluster == "":
			best = &r.v.index[objKey{kind, r.meta.Namespace, name}][i]
		default:
			others = append(others, fmt.Sprintf("%q", e.cluster))
		}
	}
	switch {
	case best != nil:
		return best
	case kind == KindSecret && r.v.opts.ExternalSecrets:
	case len(others) == 0:
		r.errorf(field, "%s %q not found in namespace %q", kind, name, r.meta.Namespace)
	case cluster == "":
		r.errorf(field, "%s %q in namespace %q exists only for cluster %s, but this %s applies to every cluster",
			kind, name, r.meta.Namespace, strings.Join(others, ", "), r.kind)
	default:
		r.errorf(field, "%s %q in namespace %q exists only for cluster %s, not for cluster %q",
			kind, name, r.meta.Namespace, strings.Join(others, ", "), cluster)
	}
	return nil
}

// secretRef resolves a LocalObjectReference to a Secret of the set; nil
// when it is not there (already reported) or not set.
func (r report) secretRef(field string, ref *LocalObjectReference) *Secret {
	if ref == nil {
		return nil
	}
	if ref.Name == "" {
		r.errorf(field+".name", "required")
		return nil
	}
	if e := r.resolve(field+".name", KindSecret, ref.Name); e != nil {
		return e.secret
	}
	return nil
}

// providerSecrets checks the Secrets a Provider uses as Flux reads them
// (§4.0). Messages name keys, never their values.
func (r report) providerSecrets(s *ProviderSpec) {
	if s.Type == "generic-hmac" && s.SecretRef == nil {
		r.errorf("spec.secretRef", "required for type generic-hmac: its token key is the HMAC key")
	}
	if sec := r.secretRef("spec.secretRef", s.SecretRef); sec != nil {
		field, name := "spec.secretRef.name", sec.Metadata.Name
		if _, ok := sec.Data["token"]; !ok && s.Type == "generic-hmac" {
			r.errorf(field, "Secret %q has no \"token\" key, the HMAC key of generic-hmac", name)
		}
		if len(strings.TrimSpace(string(sec.Data["address"]))) > 2048 {
			r.errorf(field, "invalid address in secret: address exceeds maximum length of 2048 bytes")
		}
		if proxy, ok := sec.Data["proxy"]; ok {
			r.warnf(field, "Secret %q key \"proxy\" is deprecated: use spec.proxySecretRef", name)
			if _, err := url.Parse(strings.TrimSpace(string(proxy))); err != nil {
				r.errorf(field, "Secret %q key \"proxy\" is not a valid URL", name)
			}
		}
		_, user := sec.Data["username"]
		_, pass := sec.Data["password"]
		if user != pass {
			r.warnf(field, "Secret %q has only one of \"username\" and \"password\"; Flux then ignores its token, username and password", name)
		}
		if h, ok := sec.Data["headers"]; ok {
			var headers map[string]string
			if yaml.Unmarshal(h, &headers) != nil {
				r.errorf(field, "Secret %q key \"headers\" is not a YAML map of strings", name)
			}
		}
	}
	if sec := r.secretRef("spec.certSecretRef", s.CertSecretRef); sec != nil {
		field, name := "spec.certSecretRef.name", sec.Metadata.Name
		for _, pair := range [][2]string{{"tls.crt", "tls.key"}, {"certFile", "keyFile"}} {
			_, crt := sec.Data[pair[0]]
			_, key := sec.Data[pair[1]]
			if crt != key {
				r.errorf(field, "Secret %q must have both %q and %q, or neither", name, pair[0], pair[1])
			}
		}
		for _, legacy := range []string{"caFile", "certFile", "keyFile"} {
			if _, ok := sec.Data[legacy]; ok {
				r.warnf(field, "Secret %q key %q is deprecated: use ca.crt, tls.crt and tls.key", name, legacy)
			}
		}
	}
	if sec := r.secretRef("spec.proxySecretRef", s.ProxySecretRef); sec != nil {
		field, name := "spec.proxySecretRef.name", sec.Metadata.Name
		addr := strings.TrimSpace(string(sec.Data["address"]))
		u, err := url.Parse(addr)
		switch {
		case addr == "":
			r.errorf(field, "Secret %q has no \"address\" key", name)
		case len(addr) > 2048:
			r.errorf(field, "Secret %q key \"address\" exceeds the maximum length of 2048 characters", name)
		case err != nil || u.Host == "" || !slices.Contains([]string{"http", "https", "socks5"}, u.Scheme):
			r.errorf(field, "Secret %q key \"address\" must be an http, https or socks5 URL", name)
		}
	}
}

// receiverSecret checks the keys a Receiver type reads (§5.3).
func (r report) receiverSecret(s *ReceiverSpec) {
	sec := r.secretRef("spec.secretRef", s.SecretRef)
	if sec == nil {
		return
	}
	required := []string{"token"}
	if s.Type == "gcr" {
		required = append(required, "email", "audience")
	}
	for _, k := range required {
		if _, ok := sec.Data[k]; !ok {
			r.errorf("spec.secretRef.name", "Secret %q has no %q key", sec.Metadata.Name, k)
		}
	}
}
