package commitstatus_test

import (
	"slices"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

const sha = "a1afe267b54f38b46b487f6e938a6fd508278c07"

func kustomization(reason, severity string, metadata map[string]string) event.Event {
	return event.Event{
		InvolvedObject: event.ObjectReference{Kind: "Kustomization", Name: "gitops-system", Namespace: "flux-system",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Reason: reason, Severity: severity, Metadata: metadata,
	}
}

// §8, provider_commit_status_test.go: the reference id.
func TestDefaultID(t *testing.T) {
	ev := kustomization("ApplySucceeded", event.SeverityInfo, nil)
	if got := commitstatus.DefaultID("0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a", ev); got != "kustomization/gitops-system/0c9c2e41" {
		t.Errorf("DefaultID = %q", got)
	}
	// A UID without "-" is used whole, and the Kind and name are lowercased.
	ev.InvolvedObject.Name = "Apps"
	if got := commitstatus.DefaultID("ABC", ev); got != "kustomization/apps/abc" {
		t.Errorf("DefaultID = %q", got)
	}
}

func TestNameAndDescription(t *testing.T) {
	ev := kustomization("ApplySucceeded", event.SeverityInfo, nil)
	if got := commitstatus.Name(ev); got != "kustomization/gitops-system" {
		t.Errorf("Name = %q", got)
	}
	for reason, want := range map[string]string{
		"ApplySucceeded":          "apply succeeded",
		"HealthCheckFailed":       "health check failed",
		"ReconciliationSucceeded": "reconciliation succeeded",
		"PDFLoader":               "pdf loader",
		"Progressing":             "progressing",
		// A space is a word of its own, so it gains one on each side, as in Flux.
		"already lower":       "already   lower",
		"GitOperation2Failed": "git operation 2 failed",
		"":                    "",
		// No truncation, however long (GitHub allows 140 characters).
		"AVeryLongReasonThatGoesOnAndOnAndOnWellBeyondTheOneHundredAndFortyCharactersThatGitHubAcceptsInTheDescriptionOfACommitStatusOrSoWeThink": "a very long reason that goes on and on and on well beyond the one hundred and forty characters that git hub accepts in the description of a commit status or so we think",
	} {
		ev.Reason = reason
		if got := commitstatus.Description(ev); got != want {
			t.Errorf("Description(%q) = %q, want %q", reason, got, want)
		}
	}
}

func TestSplitCamelCase(t *testing.T) {
	for src, want := range map[string][]string{
		"":            {},
		"lowercase":   {"lowercase"},
		"Class":       {"Class"},
		"MyClass":     {"My", "Class"},
		"HTML":        {"HTML"},
		"PDFLoader":   {"PDF", "Loader"},
		"AString":     {"A", "String"},
		"GL11Version": {"GL", "11", "Version"},
		"BadUTF8\xe2": {"BadUTF8\xe2"},
		"Two  spaces": {"Two", "  ", "spaces"},
		"ÜberÄrger":   {"Über", "Ärger"},
	} {
		if got := commitstatus.SplitCamelCase(src); !slices.Equal(got, want) {
			t.Errorf("SplitCamelCase(%q) = %q, want %q", src, got, want)
		}
	}
}

// §4.3 and util_test.go's vectors.
func TestKey(t *testing.T) {
	for id, want := range map[string]string{
		"kustomization/podinfo/7d0cdc51":              "2fb5e9b5b3a1b53071344af72cae20d63f3a6388",
		"kustomization/namespace-foo-and-service-bar": "12ea142172e98435e16336acbbed8919610922c3",
	} {
		if got := commitstatus.Key(id); got != want {
			t.Errorf("Key(%q) = %s, want %s", id, got, want)
		}
	}
}

func TestState(t *testing.T) {
	want := map[commitstatus.Host][3]string{ // info, error, error text for trace
		commitstatus.GitHub:          {"success", "failure", "can't convert to github state"},
		commitstatus.GitLab:          {"success", "failed", "can't convert to gitlab state"},
		commitstatus.Gitea:           {"success", "failure", "can't convert to gitea state"},
		commitstatus.Bitbucket:       {"SUCCESSFUL", "FAILED", "can't convert to bitbucket state"},
		commitstatus.BitbucketServer: {"SUCCESSFUL", "FAILED", "bitbucket server state generated on info or error events only"},
		commitstatus.AzureDevOps:     {"succeeded", "error", "can't convert to azure devops state"},
	}
	if len(want) != len(commitstatus.Hosts) {
		t.Fatalf("the table misses a host")
	}
	for h, w := range want {
		for i, sev := range []string{event.SeverityInfo, event.SeverityError} {
			got, err := commitstatus.State(h, kustomization("ApplySucceeded", sev, nil))
			if err != nil || got != w[i] {
				t.Errorf("%s %s: %q, %v; want %q", h, sev, got, err, w[i])
			}
		}
		_, err := commitstatus.State(h, kustomization("ApplySucceeded", event.SeverityTrace, nil))
		if err == nil || err.Error() != w[2] {
			t.Errorf("%s trace: err = %v, want %q", h, err, w[2])
		}
		if !commitstatus.IsHost(string(h)) {
			t.Errorf("IsHost(%s) = false", h)
		}
	}
	if commitstatus.IsHost("githubdispatch") || commitstatus.IsHost("generic") {
		t.Error("IsHost accepts a provider that sets no status")
	}
	// Gitea alone turns Progressing into pending, whatever the severity.
	if got, err := commitstatus.State(commitstatus.Gitea, kustomization("Progressing", event.SeverityTrace, nil)); got != "pending" || err != nil {
		t.Errorf("gitea Progressing: %q, %v", got, err)
	}
}

func TestFor(t *testing.T) {
	rev := map[string]string{"revision": "main@sha1:" + sha}
	progressing := kustomization("Progressing", event.SeverityInfo, rev)
	for _, h := range commitstatus.Hosts {
		s, skip, err := commitstatus.For(h, progressing, "id")
		if h == commitstatus.Gitea {
			if skip || err != nil || s.State != "pending" {
				t.Errorf("gitea Progressing: %+v %v %v", s, skip, err)
			}
			continue
		}
		if !skip || err != nil {
			t.Errorf("%s Progressing: skip %v, err %v; want skipped", h, skip, err)
		}
	}
	// A Progressing event without a revision is skipped before the revision is read.
	if _, skip, err := commitstatus.For(commitstatus.GitHub, kustomization("Progressing", event.SeverityInfo, nil), "id"); !skip || err != nil {
		t.Errorf("skip %v, err %v", skip, err)
	}
	s, skip, err := commitstatus.For(commitstatus.GitHub, kustomization("HealthCheckFailed", event.SeverityError, rev), "kustomization/gitops-system/0c9c2e41")
	want := commitstatus.Status{Commit: sha, State: "failure", Description: "health check failed", ID: "kustomization/gitops-system/0c9c2e41"}
	if skip || err != nil || s != want {
		t.Errorf("For = %+v, %v, %v; want %+v", s, skip, err, want)
	}
	// The revision is checked before the severity, as in Flux.
	_, _, err = commitstatus.For(commitstatus.GitHub, kustomization("X", event.SeverityTrace, nil), "id")
	if err == nil || err.Error() != "missing revision metadata" {
		t.Errorf("err = %v", err)
	}
}

// §2.2 steps 4 and 5, on the cleaned metadata before it is combined.
func TestReceives(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata map[string]string
		want     bool
	}{
		{"info without commit metadata", event.SeverityInfo, map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:" + sha}, false},
		{"error without any metadata", event.SeverityError, nil, true},
		{"commit annotation", event.SeverityInfo, map[string]string{"event.toolkit.fluxcd.io/commit": sha}, true},
		{"empty commit annotation", event.SeverityInfo, map[string]string{"event.toolkit.fluxcd.io/commit": ""}, false},
		{"commit status update", event.SeverityInfo, map[string]string{"kustomize.toolkit.fluxcd.io/commit_status": "update"}, true},
		{"another group's commit status update", event.SeverityInfo, map[string]string{"source.toolkit.fluxcd.io/commit_status": "update"}, false},
		{"unprefixed commit", event.SeverityInfo, map[string]string{"commit": sha}, false},
	}
	for _, tc := range tests {
		ev := kustomization("ReconciliationSucceeded", tc.severity, tc.metadata)
		if got := commitstatus.Receives(&ev); got != tc.want {
			t.Errorf("%s: Receives = %v, want %v", tc.name, got, tc.want)
		}
	}
}
