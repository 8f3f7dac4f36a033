package api

import (
	"encoding/base64"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	v1beta1 = NotificationGroup + "/v1beta1"
	v1beta2 = NotificationGroup + "/v1beta2"
	v1beta3 = NotificationGroup + "/v1beta3"
	v1      = NotificationGroup + "/v1"
)

// apiVersions lists the versions Herald reads per kind, oldest first. All
// are decoded into the same union types.
var apiVersions = map[string][]string{
	KindProvider: {v1beta1, v1beta2, v1beta3, v1},
	KindAlert:    {v1beta1, v1beta2, v1beta3, v1},
	KindReceiver: {v1beta1, v1beta2, v1},
	KindSecret:   {"v1"},
}

// addedIn lists the fields of the union types that older API versions do
// not have, with the version that introduced them. The API server would
// reject them in an older version, so Herald does too.
var addedIn = map[string]map[string]string{
	KindAlert: {
		"spec.inclusionList": v1beta2,
		"spec.eventMetadata": v1beta2,
	},
	KindProvider: {
		"spec.interval":           v1beta2,
		"spec.commitStatusExpr":   v1beta3,
		"spec.serviceAccountName": v1beta3,
		"spec.proxySecretRef":     v1beta3,
	},
	KindReceiver: {
		"spec.interval":           v1beta2,
		"spec.resourceFilter":     v1,
		"spec.oidcProviders":      v1,
		"spec.resources[].filter": v1,
	},
}

// removedIn lists the fields of the union types that newer API versions
// dropped, with the version that dropped them and what to use instead.
// Flux's v1 CRDs (fluxcd/notification-controller/api v1.10.0) have no such
// field, so the API server would reject it in a v1 document; Herald does
// too, and keeps reading it in the older versions.
var removedIn = map[string]map[string]removal{
	KindAlert: {
		"spec.summary": {v1, "use spec.eventMetadata.summary"},
	},
	KindProvider: {
		"spec.interval": {v1, "it was never used; delete it"},
		"spec.proxy":    {v1, "use spec.proxySecretRef"},
	},
}

// removal is when a field left the API and what replaces it.
type removal struct {
	version string
	instead string
}

// managedMetadata are ObjectMeta fields the API server sets; they appear in
// `kubectl get -o yaml` exports, which Herald accepts, and are ignored.
var managedMetadata = []string{
	"creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName",
	"generation", "resourceVersion", "selfLink", "ownerReferences", "finalizers", "managedFields",
}

func ignoredPaths(kind string) map[string]bool {
	ignore := map[string]bool{}
	for _, f := range managedMetadata {
		ignore["metadata."+f] = true
	}
	if kind != KindSecret {
		ignore["status"] = true
	}
	return ignore
}

// secretManifest is the wire shape of a core v1 Secret.
type secretManifest struct {
	TypeMeta   `json:",inline"`
	Metadata   ObjectMeta        `json:"metadata"`
	Type       string            `json:"type,omitempty"`
	Immutable  bool              `json:"immutable,omitempty"`
	Data       map[string]string `json:"data,omitempty"`
	StringData map[string]string `json:"stringData,omitempty"`
}

// docDecoder turns one YAML document into objects of cfg.
type docDecoder struct {
	cfg    *Config
	src    Source
	errs   []*FieldError
	budget int
}

func (d *docDecoder) fail(ref, field, msg string) {
	d.errs = append(d.errs, &FieldError{File: d.src.File, Index: d.src.Index, Ref: ref, Field: field, Message: msg})
}

func (d *docDecoder) document(doc *yaml.Node) {
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return
		}
		doc = doc.Content[0]
	}
	// `kubectl get -o yaml` of several objects writes a v1 List.
	if scalarAt(doc, "kind") == "List" && scalarAt(doc, "apiVersion") == "v1" {
		items := valueAt(doc, "items")
		if items == nil || isNull(items) {
			return
		}
		if items.Kind != yaml.SequenceNode {
			d.fail("", "items", "expected a list, got "+describe(items))
			return
		}
		for i, item := range items.Content {
			d.object(item, fmt.Sprintf("items[%d]", i))
		}
		return
	}
	d.object(doc, "")
}

func (d *docDecoder) object(n *yaml.Node, prefix string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail("", prefix, "expected a Kubernetes object (a mapping), got "+describe(n))
		return
	}
	at := func(path string) string {
		if prefix == "" || path == "" {
			return prefix + path
		}
		return prefix + "." + path
	}
	kindNode := valueAt(n, "kind")
	kind := scalarAt(n, "kind")
	versions, known := apiVersions[kind]
	switch {
	case kindNode == nil || isNull(kindNode):
		d.fail("", at("kind"), "required")
		return
	case kindNode.Kind != yaml.ScalarNode || !isStringTag(kindNode.ShortTag()):
		d.fail("", at("kind"), "expected a string, got "+describe(kindNode))
		return
	case !known:
		d.fail(objectRef(kind, peekMeta(n)), at("kind"),
			fmt.Sprintf("unsupported value %q: must be one of Provider, Alert, Receiver, Secret", kind))
		return
	}

	w := newWalker(ignoredPaths(kind), &d.budget)
	var meta ObjectMeta
	var apiVersion string
	switch kind {
	case KindProvider:
		var p Provider
		w.decode(n, reflect.ValueOf(&p).Elem(), "")
		p.Source, apiVersion = d.src, p.APIVersion
		meta = defaultNamespace(&p.Metadata)
		d.cfg.Providers = append(d.cfg.Providers, p)
	case KindAlert:
		var a Alert
		w.decode(n, reflect.ValueOf(&a).Elem(), "")
		a.Source, apiVersion = d.src, a.APIVersion
		meta = defaultNamespace(&a.Metadata)
		d.cfg.Alerts = append(d.cfg.Alerts, a)
	case KindReceiver:
		var r Receiver
		w.decode(n, reflect.ValueOf(&r).Elem(), "")
		r.Source, apiVersion = d.src, r.APIVersion
		meta = defaultNamespace(&r.Metadata)
		d.cfg.Receivers = append(d.cfg.Receivers, r)
	case KindSecret:
		var m secretManifest
		w.decode(n, reflect.ValueOf(&m).Elem(), "")
		s := m.secret(w)
		s.Source, apiVersion = d.src, s.APIVersion
		meta = defaultNamespace(&s.Metadata)
		d.cfg.Secrets = append(d.cfg.Secrets, s)
	}

	rank := slices.Index(versions, apiVersion)
	switch {
	case apiVersion == "" && !w.has("apiVersion"):
		w.add("apiVersion", "required")
	case apiVersion != "" && rank < 0:
		w.add("apiVersion", "unsupported value %q: %s must be one of %s", apiVersion, kind, strings.Join(versions, ", "))
	case rank >= 0:
		w.checkAddedIn(addedIn[kind], versions, rank)
		w.checkRemovedIn(removedIn[kind], versions, rank)
	}

	ref := objectRef(kind, meta)
	for _, is := range w.issues {
		d.fail(ref, at(is.path), is.msg)
	}
}

func (w *walker) has(path string) bool {
	return slices.ContainsFunc(w.issues, func(is issue) bool { return is.path == path })
}

var indexPattern = regexp.MustCompile(`\[[0-9]+\]`)

// checkAddedIn reports fields newer than the document's API version.
func (w *walker) checkAddedIn(added map[string]string, versions []string, rank int) {
	for _, path := range w.fields {
		since, ok := added[indexPattern.ReplaceAllString(path, "[]")]
		if ok && slices.Index(versions, since) > rank {
			w.add(path, "field not available in %s (added in %s)", versions[rank], since)
		}
	}
}

// checkRemovedIn reports fields the document's API version no longer has.
func (w *walker) checkRemovedIn(removed map[string]removal, versions []string, rank int) {
	for _, path := range w.fields {
		gone, ok := removed[indexPattern.ReplaceAllString(path, "[]")]
		if ok && rank >= slices.Index(versions, gone.version) {
			w.add(path, "field not available in %s (removed in %s: %s)", versions[rank], gone.version, gone.instead)
		}
	}
}

// apiVersionRank is the position of apiVersion among the versions Herald
// reads for kind, oldest first; an empty apiVersion, as in objects built in
// code, counts as the newest. -1 means Herald does not read it.
func apiVersionRank(kind, apiVersion string) int {
	versions := apiVersions[kind]
	if apiVersion == "" {
		return len(versions) - 1
	}
	return slices.Index(versions, apiVersion)
}

// secret merges data (base64) and stringData, stringData winning as in
// Kubernetes. Decoding errors never quote the data.
func (m *secretManifest) secret(w *walker) Secret {
	s := Secret{TypeMeta: m.TypeMeta, Metadata: m.Metadata, Type: m.Type}
	if len(m.Data)+len(m.StringData) == 0 {
		return s
	}
	s.Data = make(map[string][]byte, len(m.Data)+len(m.StringData))
	for _, k := range slices.Sorted(maps.Keys(m.Data)) {
		b, err := base64.StdEncoding.DecodeString(m.Data[k])
		if err != nil {
			w.add("data["+k+"]", "not valid base64 (put plain text under stringData)")
			continue
		}
		s.Data[k] = b
	}
	for k, v := range m.StringData {
		s.Data[k] = []byte(v)
	}
	return s
}

// defaultNamespace applies what kubectl apply does without -n.
func defaultNamespace(m *ObjectMeta) ObjectMeta {
	if m.Namespace == "" {
		m.Namespace = "default"
	}
	return *m
}

// peekMeta reads name and namespace of a document that is not decoded, to
// name it in messages.
func peekMeta(n *yaml.Node) ObjectMeta {
	md := valueAt(n, "metadata")
	m := ObjectMeta{Name: scalarAt(md, "name"), Namespace: scalarAt(md, "namespace")}
	return defaultNamespace(&m)
}

// valueAt returns the value of key in mapping n, or nil.
func valueAt(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; k.Kind == yaml.ScalarNode && k.Value == key {
			v := n.Content[i+1]
			if v.Kind == yaml.AliasNode && v.Alias != nil {
				v = v.Alias
			}
			return v
		}
	}
	return nil
}

// scalarAt returns the string value of key in mapping n, or "".
func scalarAt(n *yaml.Node, key string) string {
	v := valueAt(n, key)
	if v == nil || v.Kind != yaml.ScalarNode || !isStringTag(v.ShortTag()) {
		return ""
	}
	return v.Value
}
