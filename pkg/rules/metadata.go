package rules

import (
	"strings"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
)

// Names of the metadata sources, as Flux names them in its conflict event.
const (
	SourceAnnotations        = "involved object annotations"
	SourceEventMetadata      = "Alert object .spec.eventMetadata"
	SourceSummary            = "Alert object .spec.summary"
	SourceControllerMetadata = "involved object controller metadata"
)

// Conflicts maps a metadata key to the sources that set it, in precedence
// order, for keys set by more than one source.
type Conflicts map[string][]string

// CombineMetadata returns the metadata a Provider sees for ev under Alert a
// (Flux RFC-0008): object annotations, then the Alert's eventMetadata, then
// its summary, then the controller's metadata, later sources winning, all
// with their prefixes removed. ev must hold cleaned metadata without the
// token. When nothing is combined the event's own metadata is returned, as
// Flux leaves it in place. ev is not modified.
func CombineMetadata(ev *event.Event, a *Alert) (map[string]string, Conflicts) {
	size := len(ev.Metadata) + len(a.EventMetadata) + 1
	out := make(map[string]string, size)
	firstSource := make(map[string]string, size)
	var conflicts Conflicts
	set := func(key, value, src string) {
		if first, dup := firstSource[key]; dup {
			if conflicts == nil {
				conflicts = Conflicts{}
			}
			if len(conflicts[key]) == 0 {
				conflicts[key] = []string{first}
			}
			conflicts[key] = append(conflicts[key], src)
		} else {
			firstSource[key] = src
		}
		out[key] = value
	}

	for k, v := range ev.Metadata {
		if key, ok := strings.CutPrefix(k, event.AnnotationPrefix); ok {
			set(key, v, SourceAnnotations)
		}
	}
	for k, v := range a.EventMetadata {
		set(k, v, SourceEventMetadata)
	}
	if a.Summary != "" {
		set(event.MetaSummary, a.Summary, SourceSummary)
	}
	groupPrefix := ev.Group() + "/"
	for k, v := range ev.Metadata {
		if key, ok := strings.CutPrefix(k, groupPrefix); ok {
			set(key, v, SourceControllerMetadata)
		}
	}
	if len(out) == 0 {
		return ev.Metadata, nil
	}
	return out, conflicts
}

// ConflictMessage is the message of Flux's MetadataAppendFailed warning.
const ConflictMessage = "metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)"

// Skip says why Flux would not send ev, with its cleaned metadata, to a
// Provider of providerType, or "" when it would (behaviour reference §2.2,
// steps 4 to 6). Skipped events are not errors.
func Skip(ev *event.Event, providerType string) string {
	t := api.ProviderTypeOf(providerType)
	if ev.IsCommitStatusUpdate() && !t.ReceivesCommitStatusUpdates {
		return "commit status update for a provider that does not set commit statuses"
	}
	if t.Class == api.CommitStatus &&
		ev.Metadata[event.AnnotationPrefix+event.MetaCommit] == "" &&
		!ev.IsCommitStatusUpdate() && ev.Severity != event.SeverityError {
		return "event dropped for commit status providers due to missing commit metadata key"
	}
	if t.Class == api.ChangeRequestComment && ev.Metadata[event.AnnotationPrefix+event.MetaChangeRequest] == "" {
		return "event dropped for change request providers due to missing change_request metadata key"
	}
	return ""
}
