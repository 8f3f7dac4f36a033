package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver/resourcefilter"
)

// callFilters are a Receiver's filters for one call: compiled, with the
// call's req and claims, and spec.resourceFilter decided once for all
// resources.
type callFilters struct {
	ctx         context.Context
	req, claims map[string]any
	top         resourcefilter.Decision
	topErr      error
	perResource []*resourcefilter.Filter
}

// newCallFilters compiles rcv's filters and parses the body they read, as
// Flux does before it looks at any resource; nil when rcv has none.
func newCallFilters(ctx context.Context, rcv *api.Receiver, req *Request, res Result) (*callFilters, error) {
	if !hasFilters(rcv) {
		return nil, nil
	}
	withClaims := rcv.Spec.Type == "generic-oidc"
	var top *resourcefilter.Filter
	if src := rcv.Spec.ResourceFilter; src != "" {
		f, err := resourcefilter.Compile(src, withClaims)
		if err != nil {
			return nil, err
		}
		top = f
	}
	perResource := make([]*resourcefilter.Filter, len(rcv.Spec.Resources))
	for i, r := range rcv.Spec.Resources {
		if r.Filter == "" {
			continue
		}
		f, err := resourcefilter.Compile(r.Filter, withClaims)
		if err != nil {
			return nil, err
		}
		perResource[i] = f
	}
	body := map[string]any{}
	if isJSON(req.Header) {
		// Like Flux, read the first JSON value and ignore what follows.
		var parsed map[string]any
		if err := json.NewDecoder(bytes.NewReader(res.Body)).Decode(&parsed); err != nil {
			return nil, fmt.Errorf("failed to parse request body as JSON: %s", err)
		}
		if parsed != nil {
			body = parsed
		}
	}
	cf := &callFilters{ctx: ctx, req: body, claims: res.Claims, perResource: perResource, top: resourcefilter.Decision{Match: true}}
	if top != nil {
		cf.top, cf.topErr = top.Decide(ctx, cf.req, cf.claims)
	}
	return cf, nil
}

func hasFilters(rcv *api.Receiver) bool {
	if rcv.Spec.ResourceFilter != "" {
		return true
	}
	for _, r := range rcv.Spec.Resources {
		if r.Filter != "" {
			return true
		}
	}
	return false
}

// decide is what the call says of resource i: spec.resourceFilter, then,
// where it may select objects, the resource's own filter.
func (cf *callFilters) decide(i int) (resourcefilter.Decision, error) {
	if cf == nil {
		return resourcefilter.Decision{Match: true}, nil
	}
	if cf.topErr != nil {
		return resourcefilter.Decision{}, cf.topErr
	}
	f := cf.perResource[i]
	if f == nil || cf.top.Residual == "" && !cf.top.Match {
		return cf.top, nil
	}
	own, err := f.Decide(cf.ctx, cf.req, cf.claims)
	if err != nil {
		return resourcefilter.Decision{}, err
	}
	return resourcefilter.Both(cf.top, own)
}

// isJSON reports whether a Content-Type header says JSON, as Flux reads
// it: the first value, split at commas, up to the first that does not
// parse.
func isJSON(h http.Header) bool {
	for _, v := range strings.Split(h.Get("Content-Type"), ",") {
		t, _, err := mime.ParseMediaType(v)
		if err != nil {
			return false
		}
		if t == "application/json" {
			return true
		}
	}
	return false
}

// CheckFilters compiles rcv's filters as Flux's controller does before it
// marks the Receiver ready (reason InvalidCELExpression), and returns one
// api.FieldError per filter that does not compile.
func CheckFilters(rcv *api.Receiver) []error {
	withClaims := rcv.Spec.Type == "generic-oidc"
	var errs []error
	fieldError := func(field, msg string) {
		errs = append(errs, &api.FieldError{
			File: rcv.Source.File, Index: rcv.Source.Index,
			Ref: api.Ref(api.KindReceiver, rcv.Metadata), Field: field, Message: msg,
		})
	}
	if src := rcv.Spec.ResourceFilter; src != "" {
		if err := resourcefilter.Check(src, withClaims); err != nil {
			fieldError("spec.resourceFilter", "invalid resourceFilter expression: "+err.Error())
		}
	}
	for i, r := range rcv.Spec.Resources {
		if r.Filter == "" {
			continue
		}
		if err := resourcefilter.Check(r.Filter, withClaims); err != nil {
			fieldError(fmt.Sprintf("spec.resources[%d].filter", i),
				fmt.Sprintf("invalid filter expression for resources[%d] (kind=%q, name=%q): %s", i, r.Kind, r.Name, err))
		}
	}
	return errs
}
