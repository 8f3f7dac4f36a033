package api

import "maps"

// V1 is the newest API version of Flux's Provider, Alert and Receiver
// (fluxcd/notification-controller/api v1.10.0).
const V1 = v1

// AsV1 returns obj, a Provider, Alert or Receiver of any version Herald
// reads, as a notification.toolkit.fluxcd.io/v1 object, with a note for
// each change beyond the apiVersion. What v1 removed is carried over where
// it has a v1 form and dropped where it has none:
//   - Alert spec.summary becomes spec.eventMetadata.summary, replacing one
//     already there, since the summary outranks eventMetadata when Flux
//     combines metadata (behaviour reference §2.3);
//   - Provider spec.interval, never used, is dropped;
//   - Provider spec.proxy is dropped: v1 reads a proxy only from the Secret
//     named by spec.proxySecretRef, which a conversion cannot create.
//
// Any other value is returned unchanged.
func AsV1(obj any) (any, []string) {
	var notes []string
	switch o := obj.(type) {
	case Provider:
		o.APIVersion = v1
		if o.Spec.Interval != "" {
			o.Spec.Interval = ""
			notes = append(notes, "spec.interval dropped: v1 has no such field, and it was never used")
		}
		if o.Spec.Proxy != "" {
			o.Spec.Proxy = ""
			notes = append(notes, "spec.proxy dropped: v1 has no such field; put the proxy address in a Secret (key address) named by spec.proxySecretRef")
		}
		return o, notes
	case Alert:
		o.APIVersion = v1
		if o.Spec.Summary != "" {
			md := maps.Clone(o.Spec.EventMetadata)
			if md == nil {
				md = map[string]string{}
			}
			if old, ok := md["summary"]; ok && old != o.Spec.Summary {
				notes = append(notes, "spec.summary replaces spec.eventMetadata.summary, as it did when Flux combined them")
			}
			md["summary"] = o.Spec.Summary
			o.Spec.EventMetadata, o.Spec.Summary = md, ""
			notes = append(notes, "spec.summary moved to spec.eventMetadata.summary")
		}
		return o, notes
	case Receiver:
		o.APIVersion = v1
		return o, nil
	}
	return obj, nil
}
