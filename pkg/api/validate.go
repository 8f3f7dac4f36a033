package api

import (
	"errors"
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
)

// ReceiverTypes is the Receiver type enum of Flux's v1 API, sorted.
var ReceiverTypes = []string{
	"acr", "bitbucket", "cdevents", "dockerhub", "gcr", "generic", "generic-hmac", "generic-oidc",
	"github", "gitlab", "harbor", "nexus", "quay",
}

// SourceKinds are the kinds an Alert's eventSources and a Receiver's
// resources may name, in Flux's order.
var SourceKinds = []string{
	"Bucket", "GitRepository", "Kustomization", "HelmRelease", "HelmChart", "HelmRepository",
	"ImageRepository", "ImagePolicy", "ImageUpdateAutomation", "OCIRepository",
	"ArtifactGenerator", "ExternalArtifact",
}

// Flux's CRD patterns for durations.
var (
	timeoutPattern  = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m))+$`)
	intervalPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`)
	proxyPattern    = regexp.MustCompile(`^(http|https)://.*$`)
)

// ValidateOptions adapts validation to the caller.
type ValidateOptions struct {
	// ExternalSecrets says Secrets live outside the set being validated
	// (Secrets Manager), so a secretRef need not resolve within it. Secrets
	// that are in the set are still checked.
	ExternalSecrets bool
}

// Result is what Validate found. Every element of both lists is a
// *FieldError; they are typed error so that callers can errors.Join them.
type Result struct {
	// Errors make the config unusable: Flux's API server or controller
	// would reject it, or a reference does not resolve.
	Errors []error
	// Warnings are for config that loads but is deprecated, or has no
	// effect (an ignored option, an option Herald cannot honour).
	Warnings []error
}

// Validate checks a config set as Flux's API server and controller would,
// plus the references between objects that Flux only finds at run time.
// Both lists are in a stable order: by kind, then as loaded.
func Validate(cfg *Config, opts ValidateOptions) Result {
	v := newValidator(cfg, opts)
	for i := range cfg.Providers {
		v.provider(&cfg.Providers[i])
	}
	for i := range cfg.Alerts {
		v.alert(&cfg.Alerts[i])
	}
	for i := range cfg.Receivers {
		v.receiver(&cfg.Receivers[i])
	}
	for i := range cfg.Secrets {
		v.secret(&cfg.Secrets[i])
	}
	return v.res
}

// report collects the problems of one object.
type report struct {
	v    *validator
	kind string
	meta ObjectMeta
	src  Source
}

func (r report) add(list *[]error, field, format string, args ...any) {
	*list = append(*list, &FieldError{
		File: r.src.File, Index: r.src.Index, Ref: objectRef(r.kind, r.meta),
		Field: field, Message: fmt.Sprintf(format, args...),
	})
}

func (r report) errorf(field, format string, args ...any) {
	r.add(&r.v.res.Errors, field, format, args...)
}
func (r report) warnf(field, format string, args ...any) {
	r.add(&r.v.res.Warnings, field, format, args...)
}

// object runs the checks every kind shares: apiVersion, metadata, duplicates.
func (v *validator) object(kind string, tm TypeMeta, meta ObjectMeta, src Source) report {
	r := report{v: v, kind: kind, meta: meta, src: src}
	current := map[string]string{KindProvider: "v1beta3", KindAlert: "v1beta3", KindReceiver: "v1"}[kind]
	switch tm.APIVersion {
	case v1beta1:
		r.warnf("apiVersion", "%s is no longer served by Flux; Herald reads it as %s", tm.APIVersion, current)
	case v1beta2:
		r.warnf("apiVersion", "%s is served by Flux ≤1.8; Herald reads it as %s", tm.APIVersion, current)
	}
	if meta.Name == "" {
		r.errorf("metadata.name", "required")
	} else if msg := checkSubdomain(meta.Name); msg != "" {
		r.errorf("metadata.name", "%s", msg)
	}
	if msg := checkLabel(meta.Namespace); msg != "" {
		r.errorf("metadata.namespace", "%s", msg)
	}
	r.labels("metadata.labels", meta.Labels)
	if first, dup := v.firstOf(kind, meta, src); dup {
		where := "in the same set"
		if first.File != "" {
			where = "in " + first.String()
		}
		scope := ""
		if c := meta.Cluster(); c != "" {
			scope = fmt.Sprintf(" for cluster %q", c)
		}
		r.errorf("metadata.name", "duplicate %s%s: already defined %s", Ref(kind, meta), scope, where)
	}
	return r
}

func (r report) labels(field string, labels map[string]string) {
	for _, k := range sortedKeys(labels) {
		if msg := checkLabelKey(k); msg != "" {
			r.errorf(field+"["+k+"]", "%s", msg)
		}
		if msg := checkLabelValue(labels[k]); msg != "" {
			r.errorf(field+"["+k+"]", "%s", msg)
		}
	}
}

func (v *validator) provider(p *Provider) {
	r := v.object(KindProvider, p.TypeMeta, p.Metadata, p.Source)
	s := &p.Spec
	switch {
	case s.Type == "":
		r.errorf("spec.type", "required")
	case !isProviderType(s.Type):
		r.errorf("spec.type", "unsupported value %q: must be one of %s", s.Type, strings.Join(FluxProviderTypes, ", "))
	default:
		// A type Flux added in a newer version is not in the older
		// versions' enums, which the API server still serves.
		since := ProviderTypeOf(s.Type).MinAPIVersion
		if rank := apiVersionRank(KindProvider, p.APIVersion); since != "" && rank >= 0 && rank < apiVersionRank(KindProvider, since) {
			r.errorf("spec.type", "unsupported value %q in %s: the type needs %s", s.Type, p.APIVersion, since)
		}
	}
	// Address and proxy are not quoted: they often carry a webhook token
	// or proxy credentials.
	for _, f := range []struct{ name, value string }{
		{"spec.address", s.Address}, {"spec.channel", s.Channel}, {"spec.username", s.Username}, {"spec.proxy", s.Proxy},
	} {
		if len(f.value) > 2048 {
			r.errorf(f.name, "must be at most 2048 characters, has %d", len(f.value))
		}
	}
	// In v1 documents, loading has already refused the removed fields.
	removed := p.APIVersion == v1
	if s.Proxy != "" {
		if !removed {
			r.warnf("spec.proxy", "deprecated: use spec.proxySecretRef")
		}
		if !proxyPattern.MatchString(s.Proxy) {
			r.errorf("spec.proxy", "must match %s", proxyPattern)
		}
	}
	if s.Timeout != "" && !timeoutPattern.MatchString(s.Timeout) {
		r.errorf("spec.timeout", "invalid value %q: must match %s", s.Timeout, timeoutPattern)
	}
	if s.Interval != "" {
		if !removed {
			r.warnf("spec.interval", "deprecated and unused")
		}
		if !intervalPattern.MatchString(s.Interval) {
			r.errorf("spec.interval", "invalid value %q: must match %s", s.Interval, intervalPattern)
		}
	}
	if s.CommitStatusExpr != "" && ProviderTypeOf(s.Type).Class != CommitStatus {
		r.errorf("spec", "%s", commitStatusExprMessage)
	}
	if s.Type == "azuredevops" && s.SecretRef == nil {
		// Flux falls back to the controller's AKS workload identity.
		r.warnf("spec.secretRef", "required by Herald: without a secret holding a personal access token (key token), Flux uses AKS workload identity, which Herald cannot use since it does not run in AKS; deliveries fail")
	}
	r.providerSecrets(s)
	r.ignoredOptions(s)
}

func (v *validator) alert(a *Alert) {
	r := v.object(KindAlert, a.TypeMeta, a.Metadata, a.Source)
	s := &a.Spec
	if s.ProviderRef.Name == "" {
		r.errorf("spec.providerRef.name", "required")
	} else {
		r.resolve("spec.providerRef.name", KindProvider, s.ProviderRef.Name)
	}
	if s.EventSeverity != "" && s.EventSeverity != "info" && s.EventSeverity != "error" {
		r.errorf("spec.eventSeverity", "unsupported value %q: must be one of info, error", s.EventSeverity)
	}
	if len(s.EventSources) == 0 {
		r.errorf("spec.eventSources", "required")
	}
	for i, src := range s.EventSources {
		r.sourceRef(fmt.Sprintf("spec.eventSources[%d]", i), src)
	}
	r.regexps("spec.inclusionList", s.InclusionList)
	r.regexps("spec.exclusionList", s.ExclusionList)
	if s.Summary != "" {
		if a.APIVersion != v1 {
			r.warnf("spec.summary", "deprecated: use spec.eventMetadata.summary")
		}
		if n := len([]rune(s.Summary)); n > 255 {
			r.errorf("spec.summary", "must be at most 255 characters, has %d", n)
		}
	}
}

// sourceRef checks a reference to Flux objects, shared by an Alert's
// eventSources and a Receiver's resources.
func (r report) sourceRef(field string, ref CrossNamespaceObjectReference) {
	switch {
	case ref.Kind == "":
		r.errorf(field+".kind", "required")
	case !slices.Contains(SourceKinds, ref.Kind):
		r.errorf(field+".kind", "unsupported value %q: must be one of %s", ref.Kind, strings.Join(SourceKinds, ", "))
	}
	if ref.Name == "" {
		r.errorf(field+".name", "required")
	} else if len(ref.Name) > 253 {
		r.errorf(field+".name", "must be at most 253 characters, has %d", len(ref.Name))
	}
	if len(ref.Namespace) > 253 {
		r.errorf(field+".namespace", "must be at most 253 characters, has %d", len(ref.Namespace))
	}
	r.labels(field+".matchLabels", ref.MatchLabels)
}

func (r report) regexps(field string, exprs []string) {
	for i, expr := range exprs {
		if _, err := regexp.Compile(expr); err != nil {
			msg := err.Error()
			var se *syntax.Error
			if errors.As(err, &se) {
				msg = se.Code.String()
			}
			r.errorf(fmt.Sprintf("%s[%d]", field, i), "invalid regular expression %q: %s", expr, msg)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
