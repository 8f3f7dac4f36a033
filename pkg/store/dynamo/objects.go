package dynamo

// This file holds the config objects as the table stores them: their
// keys, refs and the checks a write makes before any request.

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/api"
)

const (
	configPK = "config"
	// allClusters stands for "no herald.io/cluster label" in sort keys and in
	// the cluster attributes of config and hook items.
	allClusters = "*"
	hookPrefix  = "hook#"
	hookSK      = "receiver"

	// maxWriteAttempts bounds the read-compare-write loops that lose to
	// concurrent writers of the same object.
	maxWriteAttempts = 5
)

// Change says what PutObject did, in kubectl apply's words.
type Change string

// Changes.
const (
	Created    Change = "created"
	Configured Change = "configured"
	Unchanged  Change = "unchanged"
)

// Ref names a config object within its kind. Cluster is the value of its
// herald.io/cluster label, "" for an object of every cluster.
type Ref struct {
	Cluster   string
	Namespace string
	Name      string
}

func (r Ref) String() string {
	c := r.Cluster
	if c == "" {
		c = allClusters
	}
	return c + ":" + r.Namespace + "/" + r.Name
}

// Object is a stored config object.
type Object struct {
	Kind       string
	APIVersion string
	Ref
	// Generation counts the changes of the object's document.
	Generation int64
	UpdatedAt  time.Time
	// HookDigest is a Receiver's webhook digest, "" until one is set.
	HookDigest string
	// Value is the object: an api.Provider, api.Alert or api.Receiver.
	Value any
}

// ErrDigestInUse is returned when a hook digest already points at another
// Receiver: two Receivers of the same namespace and name (in two clusters)
// share a token. Give one of them another token.
var ErrDigestInUse = errors.New("hook digest already belongs to another Receiver")

// ErrNotFound is returned when an object to change does not exist.
var ErrNotFound = errors.New("not found")

// object is a config object ready to store.
type object struct {
	kind, apiVersion string
	ref              Ref
	doc              string
}

func (o object) sk() string { return configSK(o.kind, o.ref) }

func configSK(kind string, r Ref) string {
	c := r.Cluster
	if c == "" {
		c = allClusters
	}
	return kind + "#" + c + "#" + r.Namespace + "#" + r.Name
}

func hookPK(digest string) string { return hookPrefix + digest }

// shortDigest names a hook item in errors without spelling out the webhook
// path.
func shortDigest(digest string) string {
	if len(digest) > 8 {
		return digest[:8] + "…"
	}
	return digest
}

func checkRef(kind string, r Ref) error {
	if r.Namespace == "" || r.Name == "" {
		return fmt.Errorf("%s %s: namespace and name are required", kind, r)
	}
	for _, part := range []string{r.Cluster, r.Namespace, r.Name} {
		if strings.Contains(part, "#") || part == allClusters {
			return fmt.Errorf("%s %s: %q may not be used in a cluster, namespace or name", kind, r, part)
		}
	}
	return nil
}

func checkDigest(digest string) error {
	if digest == "" || len(digest) > 128 {
		return errors.New("hook digest must be 1 to 128 hex digits")
	}
	if _, err := hex.DecodeString(digest); err != nil || strings.ToLower(digest) != digest {
		return errors.New("hook digest must be lowercase hex")
	}
	return nil
}

// toObject accepts the config kinds stored in DynamoDB, by value or pointer.
// Secrets are refused: they live in Secrets Manager only.
func toObject(obj any) (object, error) {
	var (
		tm   *api.TypeMeta
		meta api.ObjectMeta
		kind string
		v    any
	)
	switch o := obj.(type) {
	case api.Provider:
		tm, meta, kind, v = &o.TypeMeta, o.Metadata, api.KindProvider, &o
	case *api.Provider:
		c := *o
		tm, meta, kind, v = &c.TypeMeta, c.Metadata, api.KindProvider, &c
	case api.Alert:
		tm, meta, kind, v = &o.TypeMeta, o.Metadata, api.KindAlert, &o
	case *api.Alert:
		c := *o
		tm, meta, kind, v = &c.TypeMeta, c.Metadata, api.KindAlert, &c
	case api.Receiver:
		tm, meta, kind, v = &o.TypeMeta, o.Metadata, api.KindReceiver, &o
	case *api.Receiver:
		c := *o
		tm, meta, kind, v = &c.TypeMeta, c.Metadata, api.KindReceiver, &c
	case api.Secret, *api.Secret:
		return object{}, errors.New("secrets are never stored in DynamoDB; they belong in Secrets Manager")
	default:
		return object{}, fmt.Errorf("cannot store a %T: only Provider, Alert and Receiver are config objects", obj)
	}
	if tm.Kind == "" {
		tm.Kind = kind
	}
	ref := Ref{Cluster: meta.Cluster(), Namespace: meta.Namespace, Name: meta.Name}
	if tm.Kind != kind {
		return object{}, fmt.Errorf("%s %s: kind is %q", kind, ref, tm.Kind)
	}
	if tm.APIVersion == "" {
		return object{}, fmt.Errorf("%s %s: apiVersion is required", kind, ref)
	}
	if err := checkRef(kind, ref); err != nil {
		return object{}, err
	}
	doc, err := json.Marshal(v)
	if err != nil {
		return object{}, fmt.Errorf("%s %s: encoding: %w", kind, ref, err)
	}
	return object{kind: kind, apiVersion: tm.APIVersion, ref: ref, doc: string(doc)}, nil
}

func clusterAttr(cluster string) string {
	if cluster == "" {
		return allClusters
	}
	return cluster
}

func clusterOf(attr string) string {
	if attr == allClusters {
		return ""
	}
	return attr
}
