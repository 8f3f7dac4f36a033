package config

import (
	"crypto/sha256"
	"errors"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/rules"
)

// unusedNotifiers builds nothing: planning never delivers.
type unusedNotifiers struct{}

func (unusedNotifiers) Acquire(notify.Config, [sha256.Size]byte) (notify.Notifier, func(), error) {
	return nil, nil, errors.New("planning must not build a notifier")
}
func (unusedNotifiers) Retain(map[string]bool) {}

const v1beta3 = "notification.toolkit.fluxcd.io/v1beta3"

func testProvider(cluster, name, typ string, suspend bool) api.Provider {
	meta := api.ObjectMeta{Namespace: "flux-system", Name: name}
	if cluster != "" {
		meta.Labels = map[string]string{api.ClusterLabel: cluster}
	}
	return api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: v1beta3, Kind: api.KindProvider},
		Metadata: meta,
		Spec:     api.ProviderSpec{Type: typ, Address: "https://example.invalid/", Suspend: suspend},
	}
}

func testAlert(name, providerName string, mutate func(*api.AlertSpec)) api.Alert {
	a := api.Alert{
		TypeMeta: api.TypeMeta{APIVersion: v1beta3, Kind: api.KindAlert},
		Metadata: api.ObjectMeta{Namespace: "flux-system", Name: name},
		Spec: api.AlertSpec{
			ProviderRef:  api.LocalObjectReference{Name: providerName},
			EventSources: []api.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		},
	}
	if mutate != nil {
		mutate(&a.Spec)
	}
	return a
}

const (
	commitKey   = event.AnnotationPrefix + event.MetaCommit
	revisionKey = "kustomize.toolkit.fluxcd.io/" + event.MetaRevision
	statusKey   = "kustomize.toolkit.fluxcd.io/" + event.MetaCommitStatus
	changeKey   = event.AnnotationPrefix + event.MetaChangeRequest
)

func testEvent(severity string, metadata map[string]string) *event.Event {
	return &event.Event{
		InvolvedObject: event.ObjectReference{
			Kind: "Kustomization", Namespace: "flux-system", Name: "podinfo",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1",
		},
		Severity:     severity,
		Message:      "Reconciliation finished",
		Reason:       "ReconciliationSucceeded",
		Metadata:     metadata,
		ObjectLabels: map[string]string{"team": "a"},
	}
}

// planned is a job reduced to what a case checks.
type planned struct {
	Alert, Provider, Type string
	Metadata              map[string]string
	CommitStatus          string
}

func TestPlan(t *testing.T) {
	rev := map[string]string{revisionKey: "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"}
	tests := []struct {
		name      string
		providers []api.Provider
		alerts    []api.Alert
		cluster   string
		ev        *event.Event
		matched   int
		jobs      []planned
		notes     []Note
	}{{
		name:      "no Alert matches",
		providers: []api.Provider{testProvider("", "chat", "slack", false)},
		alerts: []api.Alert{testAlert("errors", "chat", func(s *api.AlertSpec) {
			s.EventSeverity = event.SeverityError
		})},
		ev: testEvent(event.SeverityInfo, rev),
	}, {
		name:      "one job with the controller's metadata unprefixed",
		providers: []api.Provider{testProvider("", "chat", "slack", false)},
		alerts:    []api.Alert{testAlert("all", "chat", nil)},
		ev:        testEvent(event.SeverityInfo, rev),
		matched:   1,
		jobs: []planned{{Alert: "flux-system/all", Provider: "flux-system/chat", Type: "slack",
			Metadata: map[string]string{event.MetaRevision: rev[revisionKey]}}},
	}, {
		name:    "a missing Provider is noted, the other Alert still queues",
		alerts:  []api.Alert{testAlert("dangling", "nope", nil), testAlert("all", "chat", nil)},
		ev:      testEvent(event.SeverityInfo, nil),
		matched: 2,
		providers: []api.Provider{
			testProvider("", "chat", "generic", false),
		},
		jobs:  []planned{{Alert: "flux-system/all", Provider: "flux-system/chat", Type: "generic"}},
		notes: []Note{{Kind: ProviderMissing, Alert: "flux-system/dangling", Provider: "nope"}},
	}, {
		name:      "a suspended Provider is skipped silently",
		providers: []api.Provider{testProvider("", "paused", "generic", true)},
		alerts:    []api.Alert{testAlert("all", "paused", nil)},
		ev:        testEvent(event.SeverityInfo, nil),
		matched:   1,
	}, {
		name:      "a commit status update reaches no chat provider",
		providers: []api.Provider{testProvider("", "chat", "slack", false), testProvider("", "hook", "generic", false)},
		alerts:    []api.Alert{testAlert("chat", "chat", nil), testAlert("hook", "hook", nil)},
		ev:        testEvent(event.SeverityInfo, map[string]string{statusKey: "update"}),
		matched:   2,
		jobs: []planned{{Alert: "flux-system/hook", Provider: "flux-system/hook", Type: "generic",
			Metadata: map[string]string{event.MetaCommitStatus: "update"}}},
		notes: []Note{{Kind: Skipped, Alert: "flux-system/chat", Provider: "chat",
			Reason: "commit status update for a provider that does not set commit statuses"}},
	}, {
		name:      "a commit status provider needs the commit key",
		providers: []api.Provider{testProvider("", "gh", "github", false)},
		alerts:    []api.Alert{testAlert("gh", "gh", nil)},
		ev:        testEvent(event.SeverityInfo, rev),
		matched:   1,
		notes: []Note{{Kind: Skipped, Alert: "flux-system/gh", Provider: "gh",
			Reason: "event dropped for commit status providers due to missing commit metadata key"}},
	}, {
		name:      "an error event reaches a commit status provider without the commit key",
		providers: []api.Provider{testProvider("", "gh", "github", false)},
		alerts:    []api.Alert{testAlert("gh", "gh", nil)},
		ev:        testEvent(event.SeverityError, nil),
		matched:   1,
		jobs: []planned{{Alert: "flux-system/gh", Provider: "flux-system/gh", Type: "github",
			CommitStatus: "kustomization/podinfo/" + stableUIDPrefix("gh")}},
	}, {
		// §8: the default id is lower(Kind/name/<UID up to its first "-">),
		// with metadata.uid when the manifest carries one.
		name:      "a commit status job carries the default status id",
		providers: []api.Provider{withUID(testProvider("", "gh", "github", false), "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a")},
		alerts:    []api.Alert{testAlert("gh", "gh", nil)},
		ev:        testEvent(event.SeverityInfo, map[string]string{commitKey: "a1afe267b54f38b46b487f6e938a6fd508278c07"}),
		matched:   1,
		jobs: []planned{{Alert: "flux-system/gh", Provider: "flux-system/gh", Type: "github",
			Metadata:     map[string]string{event.MetaCommit: "a1afe267b54f38b46b487f6e938a6fd508278c07"},
			CommitStatus: "kustomization/podinfo/0c9c2e41"}},
	}, {
		name: "commitStatusExpr reads the event, the Alert and the Provider",
		providers: []api.Provider{withExpr(withUID(testProvider("", "gh", "gitlab", false), "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"),
			"event.metadata.env + '/' + alert.metadata.name + '/' + provider.metadata.uid.split('-')[0]")},
		alerts: []api.Alert{testAlert("gh", "gh", func(s *api.AlertSpec) {
			s.EventMetadata = map[string]string{"env": "prod"}
		})},
		ev:      testEvent(event.SeverityError, nil),
		matched: 1,
		jobs: []planned{{Alert: "flux-system/gh", Provider: "flux-system/gh", Type: "gitlab",
			Metadata: map[string]string{"env": "prod"}, CommitStatus: "prod/gh/0c9c2e41"}},
	}, {
		name:      "a commitStatusExpr that does not compile fails the dispatch as in Flux",
		providers: []api.Provider{withExpr(testProvider("", "gh", "github", false), "event.involvedObject.name +")},
		alerts:    []api.Alert{testAlert("gh", "gh", nil)},
		ev:        testEvent(event.SeverityError, nil),
		matched:   1,
		notes: []Note{{Kind: DispatchFailed, Alert: "flux-system/gh", Provider: "gh",
			Reason: "failed to create commit status: failed to evaluate the spec.commitStatusExpr CEL expression for the event: failed to compile expression: failed to parse the CEL expression 'event.involvedObject.name +': ERROR: <input>:1:28: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n | event.involvedObject.name +\n | ...........................^"}},
	}, {
		name:      "a change request provider needs the change_request key",
		providers: []api.Provider{testProvider("", "pr", "githubpullrequestcomment", false)},
		alerts:    []api.Alert{testAlert("pr", "pr", nil), testAlert("pr2", "pr", nil)},
		ev:        testEvent(event.SeverityInfo, map[string]string{commitKey: "a1afe267b54f38b46b487f6e938a6fd508278c07"}),
		matched:   2,
		notes: []Note{
			{Kind: Skipped, Alert: "flux-system/pr", Provider: "pr", Reason: "event dropped for change request providers due to missing change_request metadata key"},
			{Kind: Skipped, Alert: "flux-system/pr2", Provider: "pr", Reason: "event dropped for change request providers due to missing change_request metadata key"},
		},
	}, {
		name:      "a change request event reaches its provider",
		providers: []api.Provider{testProvider("", "pr", "githubpullrequestcomment", false)},
		alerts:    []api.Alert{testAlert("pr", "pr", nil)},
		ev:        testEvent(event.SeverityInfo, map[string]string{changeKey: "42"}),
		matched:   1,
		jobs: []planned{{Alert: "flux-system/pr", Provider: "flux-system/pr", Type: "githubpullrequestcomment",
			Metadata: map[string]string{event.MetaChangeRequest: "42"}}},
	}, {
		name:      "sources that set the same key queue the job and note the conflict",
		providers: []api.Provider{testProvider("", "chat", "slack", false)},
		alerts: []api.Alert{testAlert("all", "chat", func(s *api.AlertSpec) {
			s.EventMetadata = map[string]string{"env": "prod", event.MetaSummary: "from metadata"}
			s.Summary = "from summary"
		})},
		ev:      testEvent(event.SeverityInfo, map[string]string{event.AnnotationPrefix + "env": "dev"}),
		matched: 1,
		jobs: []planned{{Alert: "flux-system/all", Provider: "flux-system/chat", Type: "slack",
			Metadata: map[string]string{"env": "prod", event.MetaSummary: "from summary"}}},
		notes: []Note{{Kind: MetadataConflict, Alert: "flux-system/all", Provider: "chat", Conflicts: rules.Conflicts{
			"env":             {rules.SourceAnnotations, rules.SourceEventMetadata},
			event.MetaSummary: {rules.SourceEventMetadata, rules.SourceSummary},
		}}},
	}, {
		name: "a cluster's own Provider wins and the cluster joins the metadata",
		providers: []api.Provider{
			testProvider("", "chat", "slack", false),
			testProvider("prod", "chat", "msteams", false),
		},
		alerts:  []api.Alert{testAlert("all", "chat", nil)},
		cluster: "prod",
		ev:      testEvent(event.SeverityInfo, nil),
		matched: 1,
		jobs: []planned{{Alert: "flux-system/all", Provider: "prod:flux-system/chat", Type: "msteams",
			Metadata: map[string]string{event.MetaCluster: "prod"}}},
	}, {
		name:      "another cluster falls back to the unscoped Provider",
		providers: []api.Provider{testProvider("", "chat", "slack", false), testProvider("prod", "chat", "msteams", false)},
		alerts:    []api.Alert{testAlert("all", "chat", nil)},
		cluster:   "staging",
		ev:        testEvent(event.SeverityInfo, nil),
		matched:   1,
		jobs: []planned{{Alert: "flux-system/all", Provider: "flux-system/chat", Type: "slack",
			Metadata: map[string]string{event.MetaCluster: "staging"}}},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := NewSnapshot(&api.Config{Providers: tc.providers, Alerts: tc.alerts}, unusedNotifiers{}, SnapshotOptions{})
			if err != nil {
				t.Fatal(err)
			}
			before := *tc.ev
			beforeMeta := maps.Clone(tc.ev.Metadata)
			plan := snap.Plan(tc.ev, tc.cluster, "dedup-key")

			if plan.Matched != tc.matched {
				t.Errorf("matched %d Alerts, want %d", plan.Matched, tc.matched)
			}
			var got []planned
			for _, j := range plan.Jobs {
				got = append(got, planned{Alert: j.Alert, Provider: j.Provider.String(), Type: j.ProviderType, Metadata: j.Event.Metadata, CommitStatus: j.CommitStatus})
				if j.Event.ObjectLabels != nil {
					t.Errorf("job %s keeps the object's labels; providers never see them", j.Alert)
				}
				if j.Event.Message != tc.ev.Message || j.Event.InvolvedObject != tc.ev.InvolvedObject {
					t.Errorf("job %s changed the event: %+v", j.Alert, j.Event)
				}
				alertUID := api.StableUID(api.KindAlert, api.ObjectMeta{Namespace: "flux-system", Name: j.Alert[len("flux-system/"):]})
				if want := delivery.JobID("dedup-key", tc.ev.Timestamp, alertUID, j.Provider); j.ID != want {
					t.Errorf("job %s has id %s, want %s", j.Alert, j.ID, want)
				}
			}
			for i := range got {
				if len(got[i].Metadata) == 0 {
					got[i].Metadata = nil
				}
			}
			if !reflect.DeepEqual(got, tc.jobs) {
				t.Errorf("jobs\n got %+v\nwant %+v", got, tc.jobs)
			}
			if !reflect.DeepEqual(plan.Notes, tc.notes) {
				t.Errorf("notes\n got %+v\nwant %+v", plan.Notes, tc.notes)
			}
			if !reflect.DeepEqual(tc.ev.Metadata, beforeMeta) || !reflect.DeepEqual(tc.ev.ObjectLabels, before.ObjectLabels) {
				t.Error("Plan changed the event it was given")
			}
		})
	}
}

// Two Alerts that select the same event for the same Provider are two
// deliveries with distinct ids, as Flux sends the event once per Alert.
func TestPlanOneJobPerAlert(t *testing.T) {
	snap, err := NewSnapshot(&api.Config{
		Providers: []api.Provider{testProvider("", "chat", "slack", false)},
		Alerts:    []api.Alert{testAlert("a", "chat", nil), testAlert("b", "chat", nil)},
	}, unusedNotifiers{}, SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	plan := snap.Plan(testEvent(event.SeverityInfo, nil), "", "k")
	if len(plan.Jobs) != 2 || plan.Jobs[0].ID == plan.Jobs[1].ID {
		t.Fatalf("jobs %+v, want two with distinct ids", plan.Jobs)
	}
}

func withUID(p api.Provider, uid string) api.Provider {
	p.Metadata.UID = uid
	return p
}

func withExpr(p api.Provider, expr string) api.Provider {
	p.Spec.CommitStatusExpr = expr
	return p
}

// stableUIDPrefix is the default id's part of the UID Herald gives a
// Provider of flux-system without metadata.uid.
func stableUIDPrefix(name string) string {
	uid := api.StableUID(api.KindProvider, api.ObjectMeta{Namespace: "flux-system", Name: name})
	prefix, _, _ := strings.Cut(uid, "-")
	return prefix
}
