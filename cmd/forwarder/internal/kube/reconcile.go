package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

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
	// Filter, when set, decides per object whether to annotate it, from
	// res: the object's apiVersion, kind and metadata as JSON, which is
	// what Flux's resource filters read.
	Filter func(ctx context.Context, res map[string]any) (bool, error)
}

// FilterError is an object whose filter failed to evaluate: it was not
// annotated.
type FilterError struct {
	Object string // Kind namespace/name
	Err    error
}

func (e *FilterError) Error() string { return e.Object + ": " + e.Err.Error() }
func (e *FilterError) Unwrap() error { return e.Err }

// FilterErrors are the objects of one request whose filter failed; the
// request's other objects were handled.
type FilterErrors []*FilterError

func (e FilterErrors) Error() string {
	msgs := make([]string, len(e))
	for i, fe := range e {
		msgs[i] = fe.Error()
	}
	return strings.Join(msgs, "; ")
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
	var objects []metav1.PartialObjectMetadata
	switch {
	case t.Name == "*":
		list, err := res.List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(t.MatchLabels).String()})
		if err != nil {
			return 0, classify(err)
		}
		objects = list.Items
	case t.Filter != nil:
		// The filter reads the object's metadata.
		obj, err := res.Get(ctx, t.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return 0, nil
		case err != nil:
			return 0, classify(err)
		}
		objects = []metav1.PartialObjectMetadata{*obj}
	default:
		objects = []metav1.PartialObjectMetadata{{ObjectMeta: metav1.ObjectMeta{Name: t.Name}}}
	}
	patched := 0
	var filterErrs FilterErrors
	for i := range objects {
		obj := &objects[i]
		if t.Filter != nil {
			ok, err := t.Filter(ctx, filterInput(t, obj))
			if err != nil {
				// Unlike Flux, which stops at the first, every object is
				// decided: one object's error does not hide the others.
				filterErrs = append(filterErrs, &FilterError{Object: t.Kind + " " + t.Namespace + "/" + obj.Name, Err: err})
				continue
			}
			if !ok {
				continue
			}
		}
		_, err := res.Patch(ctx, obj.Name, types.MergePatchType, patch, metav1.PatchOptions{FieldManager: "herald-forwarder"})
		switch {
		case apierrors.IsNotFound(err):
			continue
		case err != nil:
			return patched, classify(err)
		}
		patched++
	}
	if len(filterErrs) > 0 {
		return patched, filterErrs
	}
	return patched, nil
}

// filterInput is res for an object: its metadata as JSON with the
// target's apiVersion and kind, as Flux's cached client gives it.
func filterInput(t Target, obj *metav1.PartialObjectMetadata) map[string]any {
	out := *obj
	out.APIVersion, out.Kind = t.APIVersion, t.Kind
	data, err := json.Marshal(&out)
	var m map[string]any
	if err == nil {
		err = json.Unmarshal(data, &m)
	}
	if err != nil {
		// ObjectMeta always encodes; keep the names at least.
		m = map[string]any{"apiVersion": t.APIVersion, "kind": t.Kind, "metadata": map[string]any{"name": obj.Name, "namespace": obj.Namespace}}
	}
	return m
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
