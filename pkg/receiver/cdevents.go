package receiver

import (
	"context"
	"reflect"

	cdevents "github.com/cdevents/sdk-go/pkg/api"
	cdevents04 "github.com/cdevents/sdk-go/pkg/api/v04"

	"github.com/heraldhq/herald/pkg/api"
)

// verifyCDEvents accepts a body that is a CDEvents v0.4 event valid against
// its schema, as the CDEvents Go SDK judges it, and checks the CloudEvents
// type in Ce-Type against the Receiver's events. CDEvents carry no
// signature: the webhook path is the only credential.
func verifyCDEvents(_ context.Context, _ *Verifier, rcv *api.Receiver, _ map[string][]byte, _ []byte, req *Request) (Result, error) {
	event, err := parseCDEvent(req.Body)
	if err != nil {
		return Result{}, badRequest("unable to validate CDEvent event: %v", err)
	}
	if err := cdevents.Validate(event); err != nil {
		return Result{}, badRequest("unable to validate CDEvent event: %v", err)
	}
	if eventType := req.Header.Get("Ce-Type"); !eventAllowed(rcv, eventType) {
		return Result{}, badRequest("the CDEvent %q is not authorised", eventType)
	}
	return Result{Body: req.Body}, nil
}

// parseCDEvent is the SDK's v04.NewFromJsonBytes with fresh events. The
// SDK decodes into the one shared value per event type that its type map
// holds, so concurrent calls race, and fields of an earlier event survive
// into a later one that lacks them and let it pass validation. Here every
// call decodes into zero values, which is what the SDK's first call sees.
func parseCDEvent(body []byte) (cdevents.CDEventV04, error) {
	fresh := make(map[string]cdevents.CDEventV04, len(cdevents04.CDEventsByUnversionedTypes))
	for key, shared := range cdevents04.CDEventsByUnversionedTypes {
		fresh[key] = reflect.New(reflect.TypeOf(shared).Elem()).Interface().(cdevents.CDEventV04)
	}
	return cdevents.NewFromJsonBytesContext(body, fresh)
}
