package receiver

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/heraldhq/herald/pkg/api"
)

// ReconcileRequest asks the forwarder of a cluster to reconcile Flux
// objects: one by name, or, with name "*", those with matchLabels in the
// namespace. The forwarder resolves the selection in its cluster, where the
// labels are, and sets reconcile.fluxcd.io/requestedAt on each object.
type ReconcileRequest struct {
	// ID orders requests within a cluster; the store assigns it.
	ID          string            `json:"id,omitempty"`
	APIVersion  string            `json:"apiVersion"`
	Kind        string            `json:"kind"`
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// Receiver is the namespace/name of the Receiver that asked.
	Receiver    string    `json:"receiver"`
	RequestedAt time.Time `json:"requestedAt"`
}

// defaultAPIVersions are the apiVersions Flux assumes for kinds given
// without one.
var defaultAPIVersions = map[string]string{
	"Bucket":            "source.toolkit.fluxcd.io/v1",
	"HelmChart":         "source.toolkit.fluxcd.io/v1",
	"HelmRepository":    "source.toolkit.fluxcd.io/v1",
	"GitRepository":     "source.toolkit.fluxcd.io/v1",
	"OCIRepository":     "source.toolkit.fluxcd.io/v1",
	"ImageRepository":   "image.toolkit.fluxcd.io/v1",
	"ArtifactGenerator": "source.extensions.fluxcd.io/v1beta1",
}

// ErrFiltersUnsupported is returned for Receivers with CEL filters, which
// Herald does not evaluate yet: ignoring them would reconcile objects the
// user excluded.
var ErrFiltersUnsupported = errors.New("resource filters (spec.resourceFilter, spec.resources[].filter) are not supported yet")

// Requests lists the reconcile requests a verified call to rcv makes.
func Requests(rcv *api.Receiver, now time.Time) ([]ReconcileRequest, error) {
	if rcv.Spec.ResourceFilter != "" {
		return nil, ErrFiltersUnsupported
	}
	out := make([]ReconcileRequest, 0, len(rcv.Spec.Resources))
	for _, res := range rcv.Spec.Resources {
		if res.Filter != "" {
			return nil, ErrFiltersUnsupported
		}
		apiVersion := res.APIVersion
		if apiVersion == "" {
			apiVersion = defaultAPIVersions[res.Kind]
		}
		if apiVersion == "" {
			return nil, fmt.Errorf("apiVersion must be specified for kind %q", res.Kind)
		}
		if res.Name == "*" && res.MatchLabels == nil {
			return nil, errors.New("matchLabels field not set when using wildcard '*' as name")
		}
		namespace := res.Namespace
		if namespace == "" {
			namespace = rcv.Metadata.Namespace
		}
		req := ReconcileRequest{
			APIVersion:  apiVersion,
			Kind:        res.Kind,
			Namespace:   namespace,
			Name:        res.Name,
			Receiver:    rcv.Metadata.Namespace + "/" + rcv.Metadata.Name,
			RequestedAt: now.UTC(),
		}
		// A specific name ignores matchLabels, as in Flux.
		if res.Name == "*" {
			req.MatchLabels = res.MatchLabels
		}
		out = append(out, req)
	}
	return out, nil
}

func nopBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
