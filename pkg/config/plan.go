package config

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/commitstatus/statusexpr"
	"github.com/heraldhq/herald/pkg/rules"
)

// Plan is what ingest does with one event: the jobs to queue, and a note
// for each matched Alert that queued nothing or queued with a warning.
type Plan struct {
	// Matched counts the Alerts that matched the event.
	Matched int
	Jobs    []delivery.Job
	Notes   []Note
}

// NoteKind says what a Note reports.
type NoteKind int

const (
	// ProviderMissing: the Alert's Provider does not exist (Flux logs
	// "failed to dispatch notification").
	ProviderMissing NoteKind = iota + 1
	// Skipped: a rule of Flux's dispatch steps dropped the event for this
	// Provider; Reason says which.
	Skipped
	// MetadataConflict: a job was queued, but several sources set the
	// same metadata keys (Flux's RFC-0008 warning).
	MetadataConflict
	// DispatchFailed: the event could not be prepared for this Provider,
	// e.g. its commitStatusExpr failed; Reason is Flux's error text.
	DispatchFailed
)

// Note is one Alert's outcome that the caller logs.
type Note struct {
	Kind NoteKind
	// Alert is the Alert's namespace/name; Provider its Provider's name.
	Alert, Provider string
	Reason          string
	Conflicts       rules.Conflicts
}

// matchBuffers recycles the slices matching appends to: planning runs for
// every event, and most events match a handful of Alerts.
var matchBuffers = sync.Pool{New: func() any { s := make([]*rules.Alert, 0, 8); return &s }}

// Plan follows Flux's dispatch steps (§2.1, §2.2) for ev, an event from
// cluster ("" in local mode) whose de-duplication key is dedupKey: match
// the Alerts, find each one's Provider, drop suspended Providers silently
// and what the skip rules drop, combine the metadata, and build one job per
// remaining Alert. It reads s and ev and changes neither.
func (s *Snapshot) Plan(ev *event.Event, cluster, dedupKey string) Plan {
	buf := matchBuffers.Get().(*[]*rules.Alert)
	defer matchBuffers.Put(buf)
	matched := s.Alerts.Match((*buf)[:0], ev, cluster)
	*buf = matched
	plan := Plan{Matched: len(matched)}
	if len(matched) == 0 {
		return plan
	}
	plan.Jobs = make([]delivery.Job, 0, len(matched))
	for _, a := range matched {
		alert := a.Namespace + "/" + a.Name
		p := s.Provider(cluster, a.Namespace, a.Provider)
		if p == nil {
			plan.Notes = append(plan.Notes, Note{Kind: ProviderMissing, Alert: alert, Provider: a.Provider})
			continue
		}
		if p.Suspend {
			continue
		}
		if reason := rules.Skip(ev, p.Type); reason != "" {
			plan.Notes = append(plan.Notes, Note{Kind: Skipped, Alert: alert, Provider: a.Provider, Reason: reason})
			continue
		}
		metadata, conflicts := rules.CombineMetadata(ev, a)
		if conflicts != nil {
			plan.Notes = append(plan.Notes, Note{Kind: MetadataConflict, Alert: alert, Provider: a.Provider, Conflicts: conflicts})
		}
		if cluster != "" {
			metadata = maps.Clone(metadata)
			if metadata == nil {
				metadata = map[string]string{}
			}
			metadata[event.MetaCluster] = cluster
		}
		out := *ev
		out.Metadata = metadata
		out.ObjectLabels = nil
		var statusID string
		if api.ProviderTypeOf(p.Type).Class == api.CommitStatus {
			id, err := s.statusID(p, &out, a)
			if err != nil {
				plan.Notes = append(plan.Notes, Note{Kind: DispatchFailed, Alert: alert, Provider: a.Provider, Reason: err.Error()})
				continue
			}
			statusID = id
		}
		plan.Jobs = append(plan.Jobs, delivery.Job{
			ID:           delivery.JobID(dedupKey, ev.Timestamp, a.UID, p.Ref),
			Event:        out,
			Provider:     p.Ref,
			ProviderType: p.Type,
			Alert:        alert,
			CommitStatus: statusID,
		})
	}
	return plan
}

// statusID is the id of the commit status a job of p sets for ev, whose
// metadata is combined, under Alert a (§2.2 step 9): the Provider's
// commitStatusExpr, or the default id of its UID.
func (s *Snapshot) statusID(p *Provider, ev *event.Event, a *rules.Alert) (string, error) {
	if p.statusExprErr != nil {
		return "", p.statusExprErr
	}
	if p.statusExpr == nil {
		return commitstatus.DefaultID(p.UID, *ev), nil
	}
	alert, err := statusexpr.ObjectMap(s.alerts[a.UID])
	if err != nil {
		return "", fmt.Errorf("%sfailed to convert alert to map: %w", statusexpr.ErrorPrefix, err)
	}
	// The expression reads the UID the default id is made of, which is
	// metadata.uid only when the manifest carries one.
	spec := p.spec
	spec.Metadata.UID = p.UID
	provider, err := statusexpr.ObjectMap(spec)
	if err != nil {
		return "", fmt.Errorf("%sfailed to convert provider to map: %w", statusexpr.ErrorPrefix, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), statusExprTimeout)
	defer cancel()
	return p.statusExpr.Eval(ctx, statusexpr.Input{Event: *ev, Alert: alert, Provider: provider})
}

// statusExprTimeout bounds one commitStatusExpr evaluation, so that an
// expression that loops over a large input cannot hold up ingest.
const statusExprTimeout = time.Second
