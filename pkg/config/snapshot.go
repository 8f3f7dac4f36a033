// Package config compiles loaded Flux objects into the snapshot the hot
// paths read: the Alert index, the Providers with their notifiers, and the
// Receivers by webhook digest. Sources of snapshots live beside it: a
// folder of YAML (local mode) and a cached loader (DynamoDB in AWS).
package config

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus/statusexpr"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/rules"
)

// Source hands out the current config. Snapshots are immutable; a reload
// replaces the whole snapshot.
type Source interface {
	// Snapshot returns the current config, or nil before the first load.
	Snapshot() *Snapshot
}

// Notifiers owns the notifiers of Providers across snapshots, so that a
// reload neither rebuilds an unchanged Provider's notifier nor leaks the
// connections of a replaced one. notifiers.Cache implements it.
type Notifiers interface {
	// Acquire returns the notifier built from cfg; release ends its use.
	Acquire(cfg notify.Config, digest [sha256.Size]byte) (n notify.Notifier, release func(), err error)
	// Retain closes the notifiers of Providers whose UID is not in uids.
	Retain(uids map[string]bool)
}

// Provider is a Provider as the handlers need it. Its config is resolved
// against its secrets on first use; its notifier comes from Notifiers.
type Provider struct {
	Ref     delivery.ProviderRef
	Type    string
	UID     string
	Suspend bool

	spec      api.Provider
	lookup    notify.SecretLookup
	notifiers Notifiers
	// statusExpr is the compiled spec.commitStatusExpr, or its compile
	// error, which Flux reports at every event rather than at load.
	statusExpr    *statusexpr.Expr
	statusExprErr error

	// mu is held while resolving, so that concurrent deliveries read the
	// secrets once.
	mu       sync.Mutex
	resolved *notify.Config
	digest   [sha256.Size]byte // of resolved
}

// Target returns the notifier of p; the caller calls its Release when done.
// A failed resolve or build is tried again by the next call: a secret read
// that was throttled must not fail every delivery until the next config
// load. A suspended Provider has no notifier.
func (p *Provider) Target() (delivery.Target, error) {
	if p.Suspend {
		return delivery.Target{}, nil
	}
	cfg, digest, err := p.resolve()
	if err != nil {
		return delivery.Target{}, err
	}
	n, release, err := p.notifiers.Acquire(cfg, digest)
	if err != nil {
		return delivery.Target{}, err
	}
	return delivery.Target{Notifier: n, Timeout: cfg.Timeout, Release: release}, nil
}

// resolve returns p's config resolved against its secrets. They are read
// once per snapshot, so a rotated secret applies with the next config load.
func (p *Provider) resolve() (notify.Config, [sha256.Size]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resolved == nil {
		cfg, err := notify.Resolve(p.spec, p.lookup)
		if err != nil {
			return notify.Config{}, [sha256.Size]byte{}, err
		}
		p.resolved, p.digest = &cfg, cfg.Digest()
	}
	return *p.resolved, p.digest, nil
}

type providerKey struct {
	cluster, namespace, name string
}

// Snapshot is one loaded config, compiled for the hot paths.
type Snapshot struct {
	Alerts *rules.Index
	// alerts holds the Alert objects by UID, for commitStatusExpr.
	alerts    map[string]*api.Alert
	providers map[providerKey]*Provider
	receivers map[string]*Receiver
	// Counts of the objects loaded, for logs and readiness.
	Counts map[string]int
	Loaded time.Time

	notifiers Notifiers
}

// SnapshotOptions say where secrets come from and what to build up front.
type SnapshotOptions struct {
	// Secrets resolves secretRefs; nil means the config's own Secret
	// manifests (local mode). In AWS it is Secrets Manager.
	Secrets notify.SecretLookup
	// Eager builds every notifier now, so that a config error fails the
	// load instead of a delivery. Lambda leaves it off to start fast.
	Eager bool
	// IndexReceivers reads every Receiver's token to index Receivers by
	// webhook digest. The receiver Lambda looks digests up in DynamoDB
	// instead, so it leaves this off and dispatch reads no Receiver secret.
	IndexReceivers bool
}

// NewSnapshot compiles cfg, taking the notifiers of its Providers from
// notifiers.
func NewSnapshot(cfg *api.Config, notifiers Notifiers, opts SnapshotOptions) (*Snapshot, error) {
	alerts, err := rules.NewIndex(cfg.Alerts)
	if err != nil {
		return nil, err
	}
	lookup := opts.Secrets
	if lookup == nil {
		lookup = SecretsLookup(cfg.Secrets)
	}
	s := &Snapshot{
		Alerts:    alerts,
		providers: make(map[providerKey]*Provider, len(cfg.Providers)),
		Counts: map[string]int{
			api.KindProvider: len(cfg.Providers),
			api.KindAlert:    len(cfg.Alerts),
			api.KindReceiver: len(cfg.Receivers),
			api.KindSecret:   len(cfg.Secrets),
		},
		Loaded:    time.Now(),
		notifiers: notifiers,
	}
	for i := range cfg.Providers {
		p := cfg.Providers[i]
		ref := delivery.ProviderRef{Cluster: p.Metadata.Cluster(), Namespace: p.Metadata.Namespace, Name: p.Metadata.Name}
		entry := &Provider{
			Ref:       ref,
			Type:      p.Spec.Type,
			UID:       api.StableUID(api.KindProvider, p.Metadata),
			Suspend:   p.Spec.Suspend,
			spec:      p,
			lookup:    lookup,
			notifiers: notifiers,
		}
		if opts.Eager {
			// A type the registry does not know (a newer Flux's) still
			// loads; its deliveries fail with the reason and are
			// dead-lettered rather than dropped.
			t, err := entry.Target()
			if err != nil && !errors.Is(err, notify.ErrUnsupportedType) {
				return nil, fmt.Errorf("%s: %s: %w", p.Source, api.Ref(api.KindProvider, p.Metadata), err)
			}
			if t.Release != nil {
				t.Release()
			}
		}
		if src := p.Spec.CommitStatusExpr; src != "" && api.ProviderTypeOf(p.Spec.Type).Class == api.CommitStatus {
			entry.statusExpr, entry.statusExprErr = statusexpr.Compile(src)
		}
		s.providers[providerKey{ref.Cluster, ref.Namespace, ref.Name}] = entry
	}
	s.alerts = make(map[string]*api.Alert, len(cfg.Alerts))
	for i := range cfg.Alerts {
		a := &cfg.Alerts[i]
		s.alerts[api.StableUID(api.KindAlert, a.Metadata)] = a
	}
	s.receivers = make(map[string]*Receiver, len(cfg.Receivers))
	for i := range cfg.Receivers {
		if !opts.IndexReceivers {
			break
		}
		r := &cfg.Receivers[i]
		if r.Spec.SecretRef == nil {
			// A generic-oidc Receiver has no secret: its path is the
			// digest of an empty token (§5.1), its caller's bearer token
			// the credential. Other types need their secret's token.
			if r.Spec.Type == "generic-oidc" {
				s.receivers[receiver.Digest(nil, r.Metadata.Name, r.Metadata.Namespace)] = &Receiver{Receiver: r}
			}
			continue
		}
		// Like Flux, a Receiver whose token cannot be read has no webhook
		// path, so calls to it find nothing.
		secret, err := lookup(r.Metadata.Namespace, r.Spec.SecretRef.Name)
		if err != nil {
			continue
		}
		token, err := receiver.Token(r, secret)
		if err != nil {
			continue
		}
		s.receivers[receiver.Digest(token, r.Metadata.Name, r.Metadata.Namespace)] = &Receiver{Receiver: r, Secret: secret}
	}
	return s, nil
}

// RetainNotifiers closes the notifiers of Providers that s no longer has.
// A config source calls it once s has replaced the previous snapshot.
func (s *Snapshot) RetainNotifiers() {
	uids := make(map[string]bool, len(s.providers))
	for _, p := range s.providers {
		uids[p.UID] = true
	}
	s.notifiers.Retain(uids)
}

// Receiver is a Receiver with the data of its secret.
type Receiver struct {
	Receiver *api.Receiver
	Secret   map[string][]byte
}

// Receiver finds the Receiver of a webhook digest.
func (s *Snapshot) Receiver(digest string) (*Receiver, bool) {
	r, ok := s.receivers[digest]
	return r, ok
}

// Provider finds the Provider an Alert in namespace refers to for an event
// from cluster: one scoped to that cluster first, else an unscoped one.
func (s *Snapshot) Provider(cluster, namespace, name string) *Provider {
	if cluster != "" {
		if p, ok := s.providers[providerKey{cluster, namespace, name}]; ok {
			return p
		}
	}
	return s.providers[providerKey{"", namespace, name}]
}

// Targets resolves each job's Provider in the config current when the job
// is tried, so that a reloaded config applies to queued jobs. Before the
// first load it answers delivery.ErrConfigNotLoaded, which the Deliverer
// retries.
func Targets(src Source) delivery.TargetFunc {
	return func(ref delivery.ProviderRef) (delivery.Target, error) {
		snap := src.Snapshot()
		if snap == nil {
			return delivery.Target{}, delivery.ErrConfigNotLoaded
		}
		return snap.Target(ref)
	}
}

// Target resolves a queued job's Provider in this snapshot.
func (s *Snapshot) Target(ref delivery.ProviderRef) (delivery.Target, error) {
	p, ok := s.providers[providerKey{ref.Cluster, ref.Namespace, ref.Name}]
	if !ok {
		return delivery.Target{}, fmt.Errorf("%w: %s", delivery.ErrProviderMissing, ref)
	}
	return p.Target()
}

// SecretsLookup resolves secret references against Secret manifests.
func SecretsLookup(secrets []api.Secret) notify.SecretLookup {
	byName := make(map[[2]string]map[string][]byte, len(secrets))
	for _, s := range secrets {
		byName[[2]string{s.Metadata.Namespace, s.Metadata.Name}] = s.Data
	}
	return func(namespace, name string) (map[string][]byte, error) {
		data, ok := byName[[2]string{namespace, name}]
		if !ok {
			return nil, fmt.Errorf("secret %s/%s not found", namespace, name)
		}
		return data, nil
	}
}
