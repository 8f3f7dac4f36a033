// Package kube is the forwarder's side of the Kubernetes API: the labels of
// involved objects, the watch of Kubernetes Events of Flux objects, and the
// annotation that makes Flux reconcile an object. It works on object
// metadata only, through client-go's metadata client, so it needs no
// generated types for Flux's kinds and no permission beyond get, list,
// watch and patch.
package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/tools/clientcmd"
)

// Client holds the clients the forwarder uses.
type Client struct {
	Metadata  metadata.Interface
	Core      corev1client.CoreV1Interface
	Discovery discovery.DiscoveryInterface

	mapperMu sync.Mutex
	mapper   *restmapper.DeferredDiscoveryRESTMapper
}

// NewClient connects with kubeconfig, or with the pod's service account
// when kubeconfig is empty.
func NewClient(kubeconfig string) (*Client, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig != "" {
		cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig)
	} else {
		cfg, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client config: %w", err)
	}
	cfg.UserAgent = "herald-forwarder"
	// Label lookups come in bursts when a controller reconciles many
	// objects; the cache absorbs repeats.
	cfg.QPS, cfg.Burst = 50, 100
	return NewClientForConfig(cfg)
}

// NewClientForConfig builds the clients from cfg.
func NewClientForConfig(cfg *rest.Config) (*Client, error) {
	md, err := metadata.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Client{
		Metadata:  md,
		Core:      core,
		Discovery: disc,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc)),
	}, nil
}

// errNoKind is a kind the API server does not serve.
var errNoKind = errors.New("kind not served by the API server")

// resourceFor maps an apiVersion and kind to its resource. A kind missing
// from the cached discovery is looked up again once, for CRDs installed
// after the forwarder started.
func (c *Client) resourceFor(apiVersion, kind string) (schema.GroupVersionResource, error) {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		// No API server serves a malformed apiVersion.
		return schema.GroupVersionResource{}, fmt.Errorf("apiVersion %q: %v: %w", apiVersion, err, errNoKind)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: kind}
	c.mapperMu.Lock()
	defer c.mapperMu.Unlock()
	m, err := c.mapper.RESTMapping(gk, gv.Version)
	if meta.IsNoMatchError(err) {
		c.mapper.Reset()
		m, err = c.mapper.RESTMapping(gk, gv.Version)
	}
	if meta.IsNoMatchError(err) {
		return schema.GroupVersionResource{}, fmt.Errorf("%s %s: %w", apiVersion, kind, errNoKind)
	}
	if err != nil {
		return schema.GroupVersionResource{}, err
	}
	return m.Resource, nil
}

// Reachable asks the API server for its version.
func (c *Client) Reachable(ctx context.Context) error {
	res := c.Discovery.RESTClient().Get().AbsPath("/version").Do(ctx)
	return res.Error()
}

// isFluxGroup reports whether group is one of Flux's API groups.
func isFluxGroup(group string) bool {
	return strings.HasSuffix(group, ".fluxcd.io")
}
