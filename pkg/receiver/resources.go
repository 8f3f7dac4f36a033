package receiver

import (
	"bytes"
	"context"
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
	// Filter is what the Receiver's CEL filters left for the cluster to
	// decide per object (a boolean expression over res); "" selects
	// every object. See package resourcefilter.
	Filter string `json:"filter,omitempty"`
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

// Requests lists the reconcile requests a verified call to rcv makes: req
// is the call as received (its Content-Type says whether the filters read
// its body) and res what verification made of it. It decides the
// Receiver's filters as far as the call allows; what is left travels in
// each request's Filter. As in Flux, a filter that does not compile, or a
// JSON body that does not parse while there are filters, fails the whole
// call; any other error fails its resource alone, and the requests of the
// other resources are returned with it.
func Requests(ctx context.Context, rcv *api.Receiver, req *Request, res Result, now time.Time) ([]ReconcileRequest, error) {
	filters, err := newCallFilters(ctx, rcv, req, res)
	if err != nil {
		return nil, err
	}
	out := make([]ReconcileRequest, 0, len(rcv.Spec.Resources))
	var errs []error
	for i, r := range rcv.Spec.Resources {
		apiVersion := r.APIVersion
		if apiVersion == "" {
			apiVersion = defaultAPIVersions[r.Kind]
		}
		if apiVersion == "" {
			errs = append(errs, fmt.Errorf("apiVersion must be specified for kind %q", r.Kind))
			continue
		}
		if r.Name == "*" && r.MatchLabels == nil {
			errs = append(errs, errors.New("matchLabels field not set when using wildcard '*' as name"))
			continue
		}
		decision, err := filters.decide(i)
		if err != nil {
			errs = append(errs, fmt.Errorf("resources[%d] (kind=%q, name=%q): %w", i, r.Kind, r.Name, err))
			continue
		}
		if decision.Residual == "" && !decision.Match {
			continue // the call excludes every object of this resource
		}
		namespace := r.Namespace
		if namespace == "" {
			namespace = rcv.Metadata.Namespace
		}
		rr := ReconcileRequest{
			APIVersion:  apiVersion,
			Kind:        r.Kind,
			Namespace:   namespace,
			Name:        r.Name,
			Filter:      decision.Residual,
			Receiver:    rcv.Metadata.Namespace + "/" + rcv.Metadata.Name,
			RequestedAt: now.UTC(),
		}
		// A specific name ignores matchLabels, as in Flux.
		if r.Name == "*" {
			rr.MatchLabels = r.MatchLabels
		}
		out = append(out, rr)
	}
	return out, errors.Join(errs...)
}

func nopBody(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
