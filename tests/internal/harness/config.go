package harness

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Flux API versions the config is written in.
const (
	NotificationAPIVersion = "notification.toolkit.fluxcd.io/v1beta3"
	CoreAPIVersion         = "v1"
)

// Provider is a Flux Provider (notification.toolkit.fluxcd.io/v1beta3
// unless APIVersion says otherwise).
type Provider struct {
	// APIVersion overrides NotificationAPIVersion, for types Flux has in
	// v1 only (mastodon).
	APIVersion      string
	Name, Namespace string
	Type            string
	Address         string
	Channel         string
	Username        string
	SecretRef       string
}

// EventSource is one entry of an Alert's spec.eventSources.
type EventSource struct {
	Kind, Name, Namespace string
}

// Alert is a Flux Alert (notification.toolkit.fluxcd.io/v1beta3 unless
// APIVersion says otherwise).
type Alert struct {
	APIVersion      string
	Name, Namespace string
	ProviderRef     string
	EventSeverity   string
	EventSources    []EventSource
	EventMetadata   map[string]string
}

// Secret is a core v1 Secret. Data is written base64-encoded under data,
// StringData as plain text under stringData, as users write both.
type Secret struct {
	Name, Namespace string
	Data            map[string]string
	StringData      map[string]string
}

// Config is a folder of Flux manifests for `herald serve --config`.
type Config struct {
	Providers []Provider
	Alerts    []Alert
	Secrets   []Secret
}

// Write puts the manifests into dir as several multi-document YAML files,
// one per kind, the way users keep them in a repository.
func (c Config) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files := map[string]*strings.Builder{}
	add := func(file, doc string) {
		b := files[file]
		if b == nil {
			b = &strings.Builder{}
			files[file] = b
		}
		b.WriteString("---\n")
		b.WriteString(doc)
	}
	for _, s := range c.Secrets {
		add("secrets.yaml", s.yaml())
	}
	for _, p := range c.Providers {
		add("providers.yaml", p.yaml())
	}
	for _, a := range c.Alerts {
		add("alerts.yaml", a.yaml())
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// q quotes a YAML scalar: a JSON-style double-quoted string is valid YAML.
func q(s string) string { return strconv.Quote(s) }

func meta(b *strings.Builder, name, namespace string) {
	fmt.Fprintf(b, "metadata:\n  name: %s\n  namespace: %s\n", q(name), q(namespace))
}

func (p Provider) yaml() string {
	var b strings.Builder
	version := NotificationAPIVersion
	if p.APIVersion != "" {
		version = p.APIVersion
	}
	fmt.Fprintf(&b, "apiVersion: %s\nkind: Provider\n", version)
	meta(&b, p.Name, p.Namespace)
	fmt.Fprintf(&b, "spec:\n  type: %s\n", q(p.Type))
	if p.Address != "" {
		fmt.Fprintf(&b, "  address: %s\n", q(p.Address))
	}
	if p.Channel != "" {
		fmt.Fprintf(&b, "  channel: %s\n", q(p.Channel))
	}
	if p.Username != "" {
		fmt.Fprintf(&b, "  username: %s\n", q(p.Username))
	}
	if p.SecretRef != "" {
		fmt.Fprintf(&b, "  secretRef:\n    name: %s\n", q(p.SecretRef))
	}
	return b.String()
}

func (a Alert) yaml() string {
	var b strings.Builder
	version := NotificationAPIVersion
	if a.APIVersion != "" {
		version = a.APIVersion
	}
	fmt.Fprintf(&b, "apiVersion: %s\nkind: Alert\n", version)
	meta(&b, a.Name, a.Namespace)
	fmt.Fprintf(&b, "spec:\n  providerRef:\n    name: %s\n", q(a.ProviderRef))
	if a.EventSeverity != "" {
		fmt.Fprintf(&b, "  eventSeverity: %s\n", q(a.EventSeverity))
	}
	b.WriteString("  eventSources:\n")
	for _, s := range a.EventSources {
		fmt.Fprintf(&b, "    - kind: %s\n      name: %s\n", q(s.Kind), q(s.Name))
		if s.Namespace != "" {
			fmt.Fprintf(&b, "      namespace: %s\n", q(s.Namespace))
		}
	}
	writeMap(&b, "  eventMetadata", a.EventMetadata, "    ", false)
	return b.String()
}

func (s Secret) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: %s\nkind: Secret\n", CoreAPIVersion)
	meta(&b, s.Name, s.Namespace)
	b.WriteString("type: Opaque\n")
	writeMap(&b, "data", s.Data, "  ", true)
	writeMap(&b, "stringData", s.StringData, "  ", false)
	return b.String()
}

func writeMap(b *strings.Builder, key string, m map[string]string, indent string, encode bool) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n", key)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := m[k]
		if encode {
			v = base64.StdEncoding.EncodeToString([]byte(v))
		}
		fmt.Fprintf(b, "%s%s: %s\n", indent, q(k), q(v))
	}
}
