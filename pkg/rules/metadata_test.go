package rules

import (
	"maps"
	"slices"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
)

// The end-to-end example of the behaviour reference, §2.3.
func TestCombineMetadataReferenceExample(t *testing.T) {
	ev := event.Event{
		InvolvedObject: event.ObjectReference{Kind: "Kustomization", Name: "podinfo", Namespace: "flux-system", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Metadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07",
			"kustomize.toolkit.fluxcd.io/token":    "tok",
			"kustomize.toolkit.fluxcd.io/checksum": "c",
			"kustomize.toolkit.fluxcd.io/digest":   "d",
			"event.toolkit.fluxcd.io/deploymentID": "d1",
			"event.toolkit.fluxcd.io/summary":      "annot summary",
			"other.toolkit.fluxcd.io/key":          "x",
			"plain":                                "y",
		},
	}
	ev.CleanMetadata()
	ev.DropToken()
	a := &Alert{
		EventMetadata: map[string]string{"cluster": "prod-1", "revision": "alert-tries-to-override"},
		Summary:       "deprecated summary",
	}
	got, conflicts := CombineMetadata(&ev, a)
	want := map[string]string{
		"cluster":      "prod-1",
		"deploymentID": "d1",
		"revision":     "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07",
		"summary":      "deprecated summary",
	}
	if !maps.Equal(got, want) {
		t.Fatalf("combined = %v\nwant %v", got, want)
	}
	wantConflicts := Conflicts{
		"revision": {SourceEventMetadata, SourceControllerMetadata},
		"summary":  {SourceAnnotations, SourceSummary},
	}
	if !maps.EqualFunc(conflicts, wantConflicts, slices.Equal) {
		t.Fatalf("conflicts = %v\nwant %v", conflicts, wantConflicts)
	}
	if ev.Metadata["kustomize.toolkit.fluxcd.io/revision"] == "" {
		t.Fatal("CombineMetadata modified the event")
	}
}

func TestCombineMetadataEmpty(t *testing.T) {
	ev := event.Event{}
	got, conflicts := CombineMetadata(&ev, &Alert{})
	if got != nil || conflicts != nil {
		t.Fatalf("got %v %v, want nil", got, conflicts)
	}
}

func TestSkip(t *testing.T) {
	g := "kustomize.toolkit.fluxcd.io/"
	tests := []struct {
		name     string
		provider string
		severity string
		metadata map[string]string
		skip     bool
	}{
		{name: "plain info to slack", provider: "slack"},
		{name: "commit status update to slack", provider: "slack", metadata: map[string]string{g + "commit_status": "update"}, skip: true},
		{name: "commit status update to generic", provider: "generic", metadata: map[string]string{g + "commit_status": "update"}},
		{name: "commit status update to generic-hmac", provider: "generic-hmac", metadata: map[string]string{g + "commit_status": "update"}},
		{name: "commit status update to github", provider: "github", metadata: map[string]string{g + "commit_status": "update"}},
		{name: "github info without commit", provider: "github", skip: true},
		{name: "github error without commit", provider: "github", severity: "error"},
		{name: "github with commit annotation", provider: "gitlab", metadata: map[string]string{"event.toolkit.fluxcd.io/commit": "abc"}},
		{name: "pr comment without change request", provider: "githubpullrequestcomment", skip: true},
		{name: "pr comment with change request", provider: "githubpullrequestcomment", metadata: map[string]string{"event.toolkit.fluxcd.io/change_request": "1"}},
	}
	for _, tc := range tests {
		ev := event.Event{
			InvolvedObject: event.ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
			Severity:       tc.severity,
			Metadata:       tc.metadata,
		}
		if got := Skip(&ev, tc.provider) != ""; got != tc.skip {
			t.Errorf("%s: skip = %v, want %v", tc.name, got, tc.skip)
		}
	}
}
