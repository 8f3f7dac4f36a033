package api

import (
	"fmt"
	"slices"
	"strings"
)

// defaultSourceAPIVersion are the kinds a Receiver may name without an
// apiVersion (Flux's requestReconciliation defaults).
var defaultSourceAPIVersion = map[string]string{
	"Bucket":            "source.toolkit.fluxcd.io/v1",
	"HelmChart":         "source.toolkit.fluxcd.io/v1",
	"HelmRepository":    "source.toolkit.fluxcd.io/v1",
	"GitRepository":     "source.toolkit.fluxcd.io/v1",
	"OCIRepository":     "source.toolkit.fluxcd.io/v1",
	"ImageRepository":   "image.toolkit.fluxcd.io/v1",
	"ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
}

func (v *validator) receiver(rc *Receiver) {
	r := v.object(KindReceiver, rc.TypeMeta, rc.Metadata, rc.Source)
	s := &rc.Spec
	switch {
	case s.Type == "":
		r.errorf("spec.type", "required")
	case !slices.Contains(ReceiverTypes, s.Type):
		r.errorf("spec.type", "unsupported value %q: must be one of %s", s.Type, strings.Join(ReceiverTypes, ", "))
	}
	if s.Interval != "" && !intervalPattern.MatchString(s.Interval) {
		r.errorf("spec.interval", "invalid value %q: must match %s", s.Interval, intervalPattern)
	}

	// The CRD's CEL rules, with their messages.
	oidc := s.Type == "generic-oidc"
	switch {
	case oidc && len(s.OIDCProviders) == 0:
		r.errorf("spec", "generic-oidc receivers must define at least one oidcProvider")
	case !oidc && len(s.OIDCProviders) > 0:
		r.errorf("spec", "oidcProviders can only be set when type is generic-oidc")
	}
	switch {
	case oidc && s.SecretRef != nil:
		r.errorf("spec", "secretRef cannot be set when type is generic-oidc")
	case !oidc && s.SecretRef == nil && s.Type != "":
		r.errorf("spec", "secretRef is required when type is not generic-oidc")
	case s.SecretRef != nil:
		r.receiverSecret(s)
	}
	r.oidcProviders(s.OIDCProviders)

	if len(s.Resources) == 0 {
		r.errorf("spec.resources", "required")
	}
	for i, res := range s.Resources {
		field := fmt.Sprintf("spec.resources[%d]", i)
		r.sourceRef(field, res.CrossNamespaceObjectReference)
		// The checks Flux makes per request, with its messages: here they
		// surface before the first webhook fails.
		if res.Name == "*" && len(res.MatchLabels) == 0 {
			r.errorf(field, "matchLabels field not set when using wildcard '*' as name")
		}
		if _, ok := defaultSourceAPIVersion[res.Kind]; ok || res.APIVersion != "" || res.Kind == "" {
			continue
		}
		r.errorf(field, "apiVersion must be specified for kind %q", res.Kind)
	}
}

// oidcProviders repeats the controller's checks of generic-oidc issuers.
func (r report) oidcProviders(providers []OIDCProvider) {
	seen := map[string]bool{}
	for i, p := range providers {
		field := fmt.Sprintf("spec.oidcProviders[%d]", i)
		switch {
		case p.IssuerURL == "":
			r.errorf(field+".issuerURL", "required")
		case !strings.HasPrefix(p.IssuerURL, "http://") && !strings.HasPrefix(p.IssuerURL, "https://"):
			r.errorf(field+".issuerURL", "invalid value %q: must start with http:// or https://", p.IssuerURL)
		case seen[p.IssuerURL]:
			r.errorf(field+".issuerURL", "duplicate value %q", p.IssuerURL)
		}
		seen[p.IssuerURL] = true
		if len(p.Validations) == 0 {
			r.errorf(field+".validations", "required: at least one validation must constrain the caller")
		}
		for j, va := range p.Variables {
			if va.Name == "" {
				r.errorf(fmt.Sprintf("%s.variables[%d].name", field, j), "required")
			}
			if va.Expression == "" {
				r.errorf(fmt.Sprintf("%s.variables[%d].expression", field, j), "required")
			}
		}
		for j, va := range p.Validations {
			if va.Expression == "" {
				r.errorf(fmt.Sprintf("%s.validations[%d].expression", field, j), "required")
			}
			if va.Message == "" {
				r.errorf(fmt.Sprintf("%s.validations[%d].message", field, j), "required")
			}
		}
	}
}

func (v *validator) secret(s *Secret) {
	r := v.object(KindSecret, s.TypeMeta, s.Metadata, s.Source)
	for _, k := range sortedKeys(s.Data) {
		if msg := checkSecretKey(k); msg != "" {
			r.errorf("data", "%s", msg)
		}
	}
}
