package commitstatus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

// The parsers take text from users and events: they must not panic, their
// errors must not quote the input, and what they accept must be coherent.
func FuzzParseAddress(f *testing.F) {
	for _, s := range []string{"https://github.com/foo/bar", "git@gitlab.com:foo/bar.git", "ssh://git@h:22/o/r.git",
		"https://dev.azure.com/org/proj/_git/repo", "/local", "http://%zz", "git@h:", "a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := commitstatus.ParseAddress(raw)
		if err != nil {
			// A fixed text, so it cannot quote the address.
			if !errors.Is(err, commitstatus.ErrNoHost) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if a.Hostname == "" || a.Host != a.Scheme+"://"+a.Hostname || strings.HasPrefix(a.ID, "/") {
			t.Fatalf("incoherent %+v", a)
		}
		if r, err := a.GitHub(); err == nil && (r.Owner == "" || r.Repo == "" || !strings.HasSuffix(r.APIBase, "/")) {
			t.Fatalf("GitHub %+v", r)
		}
		_, _ = a.GitLab()
		_, _ = a.Gitea()
		_, _ = a.AzureDevOps()
	})
}

var bitbucketServerErrors = map[string]bool{
	"could not parse git address: not a URL":                                                            true,
	"could not parse git address: unsupported scheme type in address. Must be http or https":            true,
	"could not parse git address: supplied provider address is not http(s) git clone url":               true,
	"could not parse git address: invalid repository id: the path after /scm/ must be <project>/<repo>": true,
}

func FuzzParseBitbucketServer(f *testing.F) {
	for _, s := range []string{"https://example.com:7990/context/scm/p/r.git", "https://e/scm/", "http://e/scm/a/b/scm/c/d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		r, err := commitstatus.ParseBitbucketServer(raw)
		if err != nil {
			// One of the fixed texts, so it cannot quote the address.
			if !bitbucketServerErrors[err.Error()] {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if r.Project == "" || r.Repo == "" {
			t.Fatalf("%+v", r)
		}
		_ = r.CommitURL("x").String()
	})
}

func FuzzExtractCommit(f *testing.F) {
	for _, s := range []string{"main@sha1:" + sha, "main/" + sha, "master", "", "a/b/", "HEAD/", ":", "@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rev string) {
		got, err := commitstatus.ExtractCommit(rev)
		if err == nil && len(got) != 40 {
			t.Fatalf("%q gave %q", rev, got)
		}
	})
}

func FuzzSplitCamelCase(f *testing.F) {
	for _, s := range []string{"HealthCheckFailed", "PDFLoader", "\xff", "aB1 c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got := strings.Join(commitstatus.SplitCamelCase(s), ""); got != s {
			t.Fatalf("SplitCamelCase(%q) loses text: %q", s, got)
		}
	})
}
