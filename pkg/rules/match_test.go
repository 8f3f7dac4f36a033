package rules

import (
	"fmt"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
)

func alert(ns, name string, mutate func(*api.AlertSpec)) api.Alert {
	a := api.Alert{
		Metadata: api.ObjectMeta{Name: name, Namespace: ns},
		Spec: api.AlertSpec{
			ProviderRef:  api.LocalObjectReference{Name: "p"},
			EventSources: []api.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
		},
	}
	if mutate != nil {
		mutate(&a.Spec)
	}
	return a
}

func testEvent() event.Event {
	return event.Event{
		InvolvedObject: event.ObjectReference{Kind: "Kustomization", Name: "podinfo", Namespace: "flux-system", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Severity:       event.SeverityInfo,
		Message:        "Applied revision: main@sha1:a1afe267",
		Reason:         "ReconciliationSucceeded",
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name   string
		spec   func(*api.AlertSpec)
		alerts string // namespace of the Alert
		event  func(*event.Event)
		want   bool
	}{
		{name: "wildcard name, alert namespace", want: true},
		{name: "exact name", spec: func(s *api.AlertSpec) { s.EventSources[0].Name = "podinfo" }, want: true},
		{name: "other name", spec: func(s *api.AlertSpec) { s.EventSources[0].Name = "podinfo2" }},
		{name: "no glob in names", spec: func(s *api.AlertSpec) { s.EventSources[0].Name = "pod*" }},
		{name: "kind is case sensitive", spec: func(s *api.AlertSpec) { s.EventSources[0].Kind = "kustomization" }},
		{name: "other kind", event: func(e *event.Event) { e.InvolvedObject.Kind = "HelmRelease" }},
		{name: "other namespace", event: func(e *event.Event) { e.InvolvedObject.Namespace = "apps" }},
		{name: "source namespace", alerts: "apps", spec: func(s *api.AlertSpec) { s.EventSources[0].Namespace = "flux-system" }, want: true},
		{name: "source namespace defaults to the alert's", alerts: "apps"},
		{name: "apiVersion in the source is ignored", spec: func(s *api.AlertSpec) { s.EventSources[0].APIVersion = "other/v9" }, want: true},
		{name: "info alert passes trace", event: func(e *event.Event) { e.Severity = event.SeverityTrace }, want: true},
		{name: "info alert passes error", event: func(e *event.Event) { e.Severity = event.SeverityError }, want: true},
		{name: "error alert drops info", spec: func(s *api.AlertSpec) { s.EventSeverity = "error" }},
		{name: "error alert passes error", spec: func(s *api.AlertSpec) { s.EventSeverity = "error" }, event: func(e *event.Event) { e.Severity = event.SeverityError }, want: true},
		{name: "suspended", spec: func(s *api.AlertSpec) { s.Suspend = true }},
		{name: "inclusion matches anywhere", spec: func(s *api.AlertSpec) { s.InclusionList = []string{"nomatch", "revision"} }, want: true},
		{name: "inclusion misses", spec: func(s *api.AlertSpec) { s.InclusionList = []string{"^revision"} }},
		{name: "exclusion wins", spec: func(s *api.AlertSpec) {
			s.InclusionList = []string{".*"}
			s.ExclusionList = []string{"sha1"}
		}},
		{name: "labels match", spec: func(s *api.AlertSpec) { s.EventSources[0].MatchLabels = map[string]string{"team": "a"} },
			event: func(e *event.Event) { e.ObjectLabels = map[string]string{"team": "a", "x": "y"} }, want: true},
		{name: "labels apply to exact names too", spec: func(s *api.AlertSpec) {
			s.EventSources[0].Name = "podinfo"
			s.EventSources[0].MatchLabels = map[string]string{"team": "a"}
		}, event: func(e *event.Event) { e.ObjectLabels = map[string]string{"team": "b"} }},
		{name: "labels missing from the event", spec: func(s *api.AlertSpec) { s.EventSources[0].MatchLabels = map[string]string{"team": "a"} }},
		{name: "empty selector matches an event with labels", spec: func(s *api.AlertSpec) { s.EventSources[0].MatchLabels = map[string]string{} },
			event: func(e *event.Event) { e.ObjectLabels = map[string]string{} }, want: true},
		{name: "second source matches", spec: func(s *api.AlertSpec) {
			s.EventSources = append([]api.CrossNamespaceObjectReference{{Kind: "HelmRelease", Name: "*"}}, s.EventSources...)
		}, want: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ns := tc.alerts
			if ns == "" {
				ns = "flux-system"
			}
			ix, err := NewIndex([]api.Alert{alert(ns, "a", tc.spec)})
			if err != nil {
				t.Fatal(err)
			}
			ev := testEvent()
			if tc.event != nil {
				tc.event(&ev)
			}
			got := ix.Match(nil, &ev, "")
			if (len(got) == 1) != tc.want || len(got) > 1 {
				t.Fatalf("matched %d alerts, want match=%v", len(got), tc.want)
			}
		})
	}
}

func TestMatchEachAlertOnceAndClusters(t *testing.T) {
	twice := alert("flux-system", "twice", func(s *api.AlertSpec) {
		s.EventSources = append(s.EventSources, api.CrossNamespaceObjectReference{Kind: "Kustomization", Name: "podinfo"})
	})
	scoped := alert("flux-system", "scoped", nil)
	scoped.Metadata.Labels = map[string]string{api.ClusterLabel: "prod"}
	ix, err := NewIndex([]api.Alert{twice, scoped})
	if err != nil {
		t.Fatal(err)
	}
	ev := testEvent()
	if got := ix.Match(nil, &ev, "staging"); len(got) != 1 || got[0].Name != "twice" {
		t.Fatalf("staging: got %v", names(got))
	}
	if got := ix.Match(nil, &ev, "prod"); len(got) != 2 {
		t.Fatalf("prod: got %v", names(got))
	}
}

func TestNewIndexRejectsBadRegex(t *testing.T) {
	_, err := NewIndex([]api.Alert{alert("ns", "a", func(s *api.AlertSpec) { s.ExclusionList = []string{"("} })})
	if err == nil || err.Error() != "Alert/ns/a: spec.exclusionList: error parsing regexp: missing closing ): `(`" {
		t.Fatalf("err = %v", err)
	}
}

func names(alerts []*Alert) []string {
	var out []string
	for _, a := range alerts {
		out = append(out, a.Name)
	}
	return out
}

// BenchmarkMatch: one event against 10,000 Alerts over 1,000 namespaces.
func BenchmarkMatch(b *testing.B) {
	kinds := []string{"Kustomization", "HelmRelease", "GitRepository", "OCIRepository"}
	var alerts []api.Alert
	for i := range 10_000 {
		ns := fmt.Sprintf("ns-%d", i%1000)
		alerts = append(alerts, alert(ns, fmt.Sprintf("alert-%d", i), func(s *api.AlertSpec) {
			s.EventSources = []api.CrossNamespaceObjectReference{
				{Kind: kinds[i%len(kinds)], Name: "*"},
				{Kind: kinds[(i+1)%len(kinds)], Name: fmt.Sprintf("app-%d", i)},
			}
			s.ExclusionList = []string{"^ignored"}
		}))
	}
	ix, err := NewIndex(alerts)
	if err != nil {
		b.Fatal(err)
	}
	ev := testEvent()
	ev.InvolvedObject.Namespace = "ns-500"
	matched := make([]*Alert, 0, 16)
	b.ReportAllocs()
	for b.Loop() {
		matched = ix.Match(matched[:0], &ev, "")
	}
	if len(matched) == 0 {
		b.Fatal("nothing matched")
	}
}
