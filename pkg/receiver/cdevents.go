package receiver

import (
	"context"
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/pkg/api"
)

// verifyCDEvents accepts a body that is a CDEvents v0.4 event valid against
// its schema, as Flux judges it with the CDEvents Go SDK (v.CDEvents,
// normally package cdevents' Validate), and checks the CloudEvents type in
// Ce-Type against the Receiver's events. CDEvents carry no signature: the
// webhook path is the only credential.
func verifyCDEvents(_ context.Context, v *Verifier, rcv *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	if v.CDEvents == nil {
		return Result{}, &Error{Status: http.StatusNotImplemented, Err: fmt.Errorf("%w: cdevents (this binary has no CDEvents validator)", ErrUnsupported)}
	}
	if err := v.CDEvents(req.Body); err != nil {
		return Result{}, badRequest("unable to validate CDEvent event: %v", err)
	}
	if err := allowEvent(rcv, "CDEvent", req.Header.Get("Ce-Type")); err != nil {
		return Result{}, err
	}
	return Result{Body: req.Body}, nil
}
