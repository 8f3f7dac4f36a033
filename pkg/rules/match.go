// Package rules decides which Alerts an event reaches and what metadata each
// Provider then sees, exactly as Flux's notification-controller does. It is
// pure: regexes are compiled once when the Alerts are indexed, and matching
// does no I/O and no logging.
package rules

import (
	"fmt"
	"regexp"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
)

// Alert is an api.Alert compiled for matching.
type Alert struct {
	// Cluster is the herald.io/cluster label, "" for all clusters.
	Cluster   string
	Namespace string
	Name      string
	UID       string
	// Provider names the Provider in the Alert's namespace.
	Provider      string
	EventMetadata map[string]string
	Summary       string

	// errorsOnly is true for eventSeverity: error; info passes every severity.
	errorsOnly bool
	inclusion  []*regexp.Regexp
	exclusion  []*regexp.Regexp
}

// source is one compiled eventSources entry.
type source struct {
	alert       *Alert
	name        string // "*" for any
	matchLabels map[string]string
}

// Index finds the Alerts for an event without scanning them all: sources are
// grouped by the namespace and kind an event must have to match them.
type Index struct {
	alerts  []*Alert
	sources map[indexKey][]source
}

type indexKey struct {
	namespace string
	kind      string
}

// NewIndex compiles alerts. Suspended Alerts are left out, since Flux skips
// them silently. A regex that does not compile is an error; validation should
// have caught it already.
func NewIndex(alerts []api.Alert) (*Index, error) {
	ix := &Index{sources: make(map[indexKey][]source)}
	for i := range alerts {
		a := &alerts[i]
		if a.Spec.Suspend {
			continue
		}
		compiled := &Alert{
			Cluster:       a.Metadata.Cluster(),
			Namespace:     a.Metadata.Namespace,
			Name:          a.Metadata.Name,
			UID:           api.StableUID(api.KindAlert, a.Metadata),
			Provider:      a.Spec.ProviderRef.Name,
			EventMetadata: a.Spec.EventMetadata,
			Summary:       a.Spec.Summary,
			errorsOnly:    a.Spec.EventSeverity == event.SeverityError,
		}
		var err error
		if compiled.inclusion, err = compileAll(a.Spec.InclusionList); err != nil {
			return nil, fmt.Errorf("%s: spec.inclusionList: %w", api.Ref(api.KindAlert, a.Metadata), err)
		}
		if compiled.exclusion, err = compileAll(a.Spec.ExclusionList); err != nil {
			return nil, fmt.Errorf("%s: spec.exclusionList: %w", api.Ref(api.KindAlert, a.Metadata), err)
		}
		ix.alerts = append(ix.alerts, compiled)
		for _, s := range a.Spec.EventSources {
			ns := s.Namespace
			if ns == "" {
				ns = a.Metadata.Namespace
			}
			key := indexKey{namespace: ns, kind: s.Kind}
			ix.sources[key] = append(ix.sources[key], source{alert: compiled, name: s.Name, matchLabels: s.MatchLabels})
		}
	}
	return ix, nil
}

func compileAll(exprs []string) ([]*regexp.Regexp, error) {
	if len(exprs) == 0 {
		return nil, nil
	}
	out := make([]*regexp.Regexp, 0, len(exprs))
	for _, expr := range exprs {
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, err
		}
		out = append(out, re)
	}
	return out, nil
}

// Len is the number of active (not suspended) Alerts.
func (ix *Index) Len() int { return len(ix.alerts) }

// Match appends to dst every Alert that selects ev, each once, and returns
// the extended slice. cluster is the cluster the event came from; Alerts
// scoped to another cluster do not match.
func (ix *Index) Match(dst []*Alert, ev *event.Event, cluster string) []*Alert {
	candidates := ix.sources[indexKey{namespace: ev.InvolvedObject.Namespace, kind: ev.InvolvedObject.Kind}]
	start := len(dst)
	for i := range candidates {
		s := &candidates[i]
		a := s.alert
		if a.Cluster != "" && a.Cluster != cluster {
			continue
		}
		if a.errorsOnly && ev.Severity != event.SeverityError {
			continue
		}
		if s.name != "*" && s.name != ev.InvolvedObject.Name {
			continue
		}
		if s.matchLabels != nil && !labelsMatch(s.matchLabels, ev.ObjectLabels) {
			continue
		}
		if contains(dst[start:], a) || !a.messageSelected(ev.Message) {
			continue
		}
		dst = append(dst, a)
	}
	return dst
}

// labelsMatch is a Kubernetes equality selector: every pair must be present.
// Without the object's labels nothing matches, as in Flux when its lookup of
// the object fails.
func labelsMatch(selector, labels map[string]string) bool {
	if labels == nil {
		return false
	}
	for k, v := range selector {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// messageSelected applies inclusionList (one must match anywhere in the
// message, when set) and exclusionList (none may match; exclusion wins).
func (a *Alert) messageSelected(message string) bool {
	if len(a.inclusion) > 0 {
		included := false
		for _, re := range a.inclusion {
			if re.MatchString(message) {
				included = true
				break
			}
		}
		if !included {
			return false
		}
	}
	for _, re := range a.exclusion {
		if re.MatchString(message) {
			return false
		}
	}
	return true
}

// contains is a linear search: an event matches few Alerts, and an Alert can
// only repeat when several of its sources select the same event.
func contains(alerts []*Alert, a *Alert) bool {
	for _, x := range alerts {
		if x == a {
			return true
		}
	}
	return false
}
