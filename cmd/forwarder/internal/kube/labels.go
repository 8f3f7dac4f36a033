package kube

import (
	"context"
	"errors"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/heraldhq/herald/pkg/event"
)

// LabelCache looks up involved objects' labels through a short-lived
// cache: a controller posts several events per reconciliation, and they
// should cost one GET.
type LabelCache struct {
	Client *Client
	// TTL is how long a found object's labels are reused; Missing how long
	// "no such object" is.
	TTL, Missing time.Duration
	// Max bounds the cached objects.
	Max int

	mu      sync.Mutex
	entries map[event.ObjectReference]labelEntry
}

type labelEntry struct {
	labels  map[string]string
	expires time.Time
}

// Labels returns the labels of ref, nil for an object that does not exist.
func (c *LabelCache) Labels(ctx context.Context, ref event.ObjectReference) (map[string]string, error) {
	key := event.ObjectReference{Kind: ref.Kind, Namespace: ref.Namespace, Name: ref.Name, APIVersion: ref.APIVersion}
	now := time.Now()
	c.mu.Lock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		c.mu.Unlock()
		return e.labels, nil
	}
	c.mu.Unlock()

	labels, ttl, err := c.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= c.Max {
		c.entries = make(map[event.ObjectReference]labelEntry)
	}
	c.entries[key] = labelEntry{labels: labels, expires: now.Add(ttl)}
	return labels, nil
}

func (c *LabelCache) lookup(ctx context.Context, ref event.ObjectReference) (map[string]string, time.Duration, error) {
	gvr, err := c.Client.resourceFor(ref.APIVersion, ref.Kind)
	switch {
	case errors.Is(err, errNoKind):
		// A kind the API server does not serve has no object to label.
		return nil, c.Missing, nil
	case err != nil:
		// Discovery failed (the API server is unreachable, or answered
		// an error): report it rather than remember "no labels" for an
		// object that may well have them.
		return nil, 0, err
	}
	obj, err := c.Client.Metadata.Resource(gvr).Namespace(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
		// A deleted object, or a kind the forwarder may not read (it is
		// granted Flux's kinds only): no labels, as in Flux when its
		// lookup fails.
		return nil, c.Missing, nil
	case err != nil:
		return nil, 0, err
	}
	return obj.GetLabels(), c.TTL, nil
}
