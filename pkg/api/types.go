// Package api holds Herald's config objects, which have the YAML shape of
// Flux's notification.toolkit.fluxcd.io Provider, Alert and Receiver and of
// core v1 Secrets, and decodes and validates them.
package api

import (
	"crypto/sha1"
	"fmt"

	"github.com/google/uuid"
)

// API groups and kinds Herald reads.
const (
	NotificationGroup = "notification.toolkit.fluxcd.io"

	KindProvider = "Provider"
	KindAlert    = "Alert"
	KindReceiver = "Receiver"
	KindSecret   = "Secret"

	// ClusterLabel scopes an object to one cluster. Without it an object
	// applies to every cluster.
	ClusterLabel = "herald.io/cluster"
)

// ObjectMeta is the part of Kubernetes object metadata Herald uses.
type ObjectMeta struct {
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	UID         string            `json:"uid,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// TypeMeta names an object's kind and API version.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// LocalObjectReference names an object in the referrer's namespace.
type LocalObjectReference struct {
	Name string `json:"name"`
}

// CrossNamespaceObjectReference selects Flux objects, by name or, with "*",
// by labels.
type CrossNamespaceObjectReference struct {
	APIVersion  string            `json:"apiVersion,omitempty"`
	Kind        string            `json:"kind"`
	Name        string            `json:"name"`
	Namespace   string            `json:"namespace,omitempty"`
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
}

// Provider is a notification destination.
type Provider struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta   `json:"metadata"`
	Spec     ProviderSpec `json:"spec"`
	// Source says where the object was read from, for messages.
	Source Source `json:"-"`
}

// ProviderSpec is the spec of a Provider, the union of v1beta1 to v1beta3.
type ProviderSpec struct {
	Type               string                `json:"type"`
	Interval           string                `json:"interval,omitempty"`
	Channel            string                `json:"channel,omitempty"`
	Username           string                `json:"username,omitempty"`
	Address            string                `json:"address,omitempty"`
	Timeout            string                `json:"timeout,omitempty"`
	Proxy              string                `json:"proxy,omitempty"`
	ProxySecretRef     *LocalObjectReference `json:"proxySecretRef,omitempty"`
	SecretRef          *LocalObjectReference `json:"secretRef,omitempty"`
	CertSecretRef      *LocalObjectReference `json:"certSecretRef,omitempty"`
	CommitStatusExpr   string                `json:"commitStatusExpr,omitempty"`
	ServiceAccountName string                `json:"serviceAccountName,omitempty"`
	Suspend            bool                  `json:"suspend,omitempty"`
}

// Alert routes matching events to a Provider.
type Alert struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta `json:"metadata"`
	Spec     AlertSpec  `json:"spec"`
	Source   Source     `json:"-"`
}

// AlertSpec is the spec of an Alert, the union of v1beta1 to v1beta3.
type AlertSpec struct {
	ProviderRef   LocalObjectReference            `json:"providerRef"`
	EventSeverity string                          `json:"eventSeverity,omitempty"`
	EventSources  []CrossNamespaceObjectReference `json:"eventSources"`
	InclusionList []string                        `json:"inclusionList,omitempty"`
	ExclusionList []string                        `json:"exclusionList,omitempty"`
	EventMetadata map[string]string               `json:"eventMetadata,omitempty"`
	Summary       string                          `json:"summary,omitempty"`
	Suspend       bool                            `json:"suspend,omitempty"`
}

// Receiver turns webhooks into reconcile requests.
type Receiver struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta   `json:"metadata"`
	Spec     ReceiverSpec `json:"spec"`
	Source   Source       `json:"-"`
}

// ReceiverSpec is the spec of a Receiver, the union of v1beta1 to v1.
type ReceiverSpec struct {
	Type           string                `json:"type"`
	Interval       string                `json:"interval,omitempty"`
	Events         []string              `json:"events,omitempty"`
	Resources      []ReceiverResource    `json:"resources"`
	ResourceFilter string                `json:"resourceFilter,omitempty"`
	SecretRef      *LocalObjectReference `json:"secretRef,omitempty"`
	OIDCProviders  []OIDCProvider        `json:"oidcProviders,omitempty"`
	Suspend        bool                  `json:"suspend,omitempty"`
}

// ReceiverResource is a Flux object a Receiver reconciles, with an optional
// CEL filter (v1.9).
type ReceiverResource struct {
	CrossNamespaceObjectReference `json:",inline"`
	Filter                        string `json:"filter,omitempty"`
}

// OIDCProvider is a trusted issuer of a generic-oidc Receiver.
type OIDCProvider struct {
	IssuerURL   string          `json:"issuerURL"`
	Audience    string          `json:"audience,omitempty"`
	Variables   []OIDCVariable  `json:"variables,omitempty"`
	Validations []OIDCValidates `json:"validations,omitempty"`
}

// OIDCVariable is a named CEL expression over the token's claims.
type OIDCVariable struct {
	Name       string `json:"name"`
	Expression string `json:"expression"`
}

// OIDCValidates is a CEL boolean the token's claims must satisfy.
type OIDCValidates struct {
	Expression string `json:"expression"`
	Message    string `json:"message"`
}

// Secret is a core v1 Secret. Data holds the decoded bytes of data and
// stringData together, stringData winning as in Kubernetes.
type Secret struct {
	TypeMeta `json:",inline"`
	Metadata ObjectMeta        `json:"metadata"`
	Type     string            `json:"type,omitempty"`
	Data     map[string][]byte `json:"data,omitempty"`
	Source   Source            `json:"-"`
}

// Source locates an object in the files it was read from.
type Source struct {
	File string
	// Index is the zero-based position of the document in its file.
	Index int
}

func (s Source) String() string {
	if s.File == "" {
		return fmt.Sprintf("document %d", s.Index)
	}
	return fmt.Sprintf("%s: document %d", s.File, s.Index)
}

// Ref names an object as Kind/namespace/name.
func Ref(kind string, m ObjectMeta) string {
	return kind + "/" + m.Namespace + "/" + m.Name
}

// Cluster returns the cluster an object is scoped to, or "" for all clusters.
func (m ObjectMeta) Cluster() string {
	return m.Labels[ClusterLabel]
}

// uidNamespace seeds the stable UIDs of objects that carry none.
var uidNamespace = uuid.MustParse("5f1c7a6e-4d0b-4c35-9c8e-6a1b2f0e9d47")

// StableUID returns metadata.uid when the manifest has one (as kubectl
// exports do), so ids Flux derives from it, such as commit status contexts,
// survive a migration. Otherwise it derives a name-based UUID from the
// object's cluster scope, kind, namespace and name.
func StableUID(kind string, m ObjectMeta) string {
	if m.UID != "" {
		return m.UID
	}
	name := m.Cluster() + "/" + kind + "/" + m.Namespace + "/" + m.Name
	return uuid.NewHash(sha1.New(), uidNamespace, []byte(name), 5).String()
}

// Config is a set of config objects, as read from files or a store.
type Config struct {
	Providers []Provider
	Alerts    []Alert
	Receivers []Receiver
	Secrets   []Secret
}
