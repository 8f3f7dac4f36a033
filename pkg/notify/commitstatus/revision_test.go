package commitstatus_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

// util_test.go's TestUtil_ParseRevision, and the edges of fluxcd/pkg/git.
func TestExtractCommit(t *testing.T) {
	tests := map[string]string{ // revision → commit, "" for an error
		"sha1:" + sha:                   sha,
		"master@sha1:" + sha:            sha,
		"environment/dev@sha1:" + sha:   sha,
		"master/" + sha:                 sha,
		"environment/dev/" + sha:        sha,
		"HEAD/" + sha:                   sha,
		sha:                             sha,
		"v1.0.0@sha1:" + sha:            sha,
		"master":                        "",
		"":                              "",
		"main@sha1:" + sha[:39]:         "",
		"main@sha256:" + sha + sha[:24]: "",
		"main@sha1:" + sha + "0":        "",
		"main/" + sha[:7]:               "",
		"a/" + sha[:39] + "/":           sha[:39] + "@", // fluxcd/pkg/git's quirk, kept
		"oci@sha256:" + sha + ":" + sha: sha,
	}
	for rev, want := range tests {
		got, err := commitstatus.ExtractCommit(rev)
		if want == "" {
			if err == nil || err.Error() != "failed to extract commit hash from '"+rev+"' revision" {
				t.Errorf("%q: %q, %v; want Flux's error", rev, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", rev, got, err, want)
		}
	}
}

// commit > originRevision > revision, and a present key wins even empty.
func TestCommit(t *testing.T) {
	other := "b2b1e2a7c1a6d0d4b8f5e8c2a0b5f3e7d6c4b2a1"
	tests := []struct {
		metadata map[string]string
		want     string
		wantErr  string
	}{
		{map[string]string{"revision": "main@sha1:" + sha}, sha, ""},
		{map[string]string{"revision": "main@sha1:" + other, "originRevision": "main@sha1:" + sha}, sha, ""},
		{map[string]string{"revision": "main@sha1:" + other, "originRevision": "x", "commit": sha}, sha, ""},
		{map[string]string{"commit": "", "revision": "main@sha1:" + sha}, "", "failed to extract commit hash from '' revision"},
		{map[string]string{"summary": "x"}, "", "missing revision metadata"},
		{nil, "", "missing revision metadata"},
		{map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:" + sha}, "", "missing revision metadata"},
		{map[string]string{"revision": "main@sha1:abc"}, "", "failed to extract commit hash from 'main@sha1:abc' revision"},
	}
	for _, tc := range tests {
		got, err := commitstatus.Commit(kustomization("R", event.SeverityInfo, tc.metadata))
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%v: err = %v, want %q", tc.metadata, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%v: %q, %v", tc.metadata, got, err)
		}
	}
}
