package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// RequestedAtAnnotation is the annotation whose change makes a Flux
// controller reconcile an object.
const RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt"

// Target is one reconcile request's selection: an object by name, or with
// name "*" those matching labels in the namespace.
type Target struct {
	APIVersion, Kind, Namespace, Name string
	MatchLabels                       map[string]string
}

// ErrPermanent marks a failure that retrying cannot fix (an unknown kind,
// a refused patch).
var ErrPermanent = errors.New("permanent")

// Annotate sets the requestedAt annotation to value on the objects t
// selects, with a JSON merge patch as Flux's receiver does. It returns how
// many objects it patched; a named object that does not exist is 0 and no
// error.
func (c *Client) Annotate(ctx context.Context, t Target, value string) (int, error) {
	gvr, err := c.resourceFor(t.APIVersion, t.Kind)
	if err != nil {
		if errors.Is(err, errNoKind) {
			return 0, fmt.Errorf("%w: %v", ErrPermanent, err)
		}
		return 0, err
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{RequestedAtAnnotation: value}}})
	res := c.Metadata.Resource(gvr).Namespace(t.Namespace)
	names := []string{t.Name}
	if t.Name == "*" {
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(t.MatchLabels).String()})
		if err != nil {
			return 0, classify(err)
		}
		names = names[:0]
		for _, item := range list.Items {
			names = append(names, item.Name)
		}
	}
	patched := 0
	for _, name := range names {
		_, err := res.Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "herald-forwarder"})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return patched, classify(err)
		}
		patched++
	}
	return patched, nil
}

// classify marks the API errors that retrying cannot fix.
func classify(err error) error {
	switch {
	case apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err),
		apierrors.IsMethodNotSupported(err), apierrors.IsUnsupportedMediaType(err):
		return fmt.Errorf("%w: %v", ErrPermanent, err)
	}
	return err
}
