package commitstatus_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

// util_test.go's parseGitAddress cases, and the forms git-urls accepts.
func TestParseAddress(t *testing.T) {
	tests := map[string]commitstatus.Address{
		"https://github.com/foo/bar":                    {Scheme: "https", Host: "https://github.com", Hostname: "github.com", ID: "foo/bar"},
		"https://example.com/foo/bar":                   {Scheme: "https", Host: "https://example.com", Hostname: "example.com", ID: "foo/bar"},
		"https://gitlab.com/foo/bar.git":                {Scheme: "https", Host: "https://gitlab.com", Hostname: "gitlab.com", ID: "foo/bar"},
		"git@gitlab.com:foo/bar.git":                    {Scheme: "https", Host: "https://gitlab.com", Hostname: "gitlab.com", ID: "foo/bar"},
		"ssh://git@github.com/stefanprodan/podinfo":     {Scheme: "https", Host: "https://github.com", Hostname: "github.com", ID: "stefanprodan/podinfo"},
		"https://gitlab.com/foo/bar/foo.git":            {Scheme: "https", Host: "https://gitlab.com", Hostname: "gitlab.com", ID: "foo/bar/foo"},
		"http://gitea.local:3000/o/r":                   {Scheme: "http", Host: "http://gitea.local:3000", Hostname: "gitea.local:3000", ID: "o/r"},
		"ssh://git@ghe.example.com:2222/org/repo.git":   {Scheme: "https", Host: "https://ghe.example.com:2222", Hostname: "ghe.example.com:2222", ID: "org/repo"},
		"https://user:pw@github.com//foo/bar.git?x=1#y": {Scheme: "https", Host: "https://github.com", Hostname: "github.com", ID: "foo/bar"},
		"gitlab.com:group/sub/repo":                     {Scheme: "https", Host: "https://gitlab.com", Hostname: "gitlab.com", ID: "group/sub/repo"},
		"git+ssh://git@host/o/r.git.git":                {Scheme: "git+ssh", Host: "git+ssh://host", Hostname: "host", ID: "o/r.git"},
	}
	for raw, want := range tests {
		got, err := commitstatus.ParseAddress(raw)
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "/local/path", "file:///srv/repo.git", "not a url", "http//%zz/x", strings.Repeat("a", 2049) + ":o/r"} {
		if _, err := commitstatus.ParseAddress(raw); !errors.Is(err, commitstatus.ErrNoHost) {
			t.Errorf("%q: err = %v, want ErrNoHost", raw, err)
		}
	}
}

func TestGitHub(t *testing.T) {
	tests := map[string]commitstatus.GitHubRepo{
		"https://github.com/foo/bar":                  {Owner: "foo", Repo: "bar", APIBase: "https://api.github.com/"},
		"git@github.com:foo/bar.git":                  {Owner: "foo", Repo: "bar", APIBase: "https://api.github.com/"},
		"http://github.com/foo/bar":                   {Owner: "foo", Repo: "bar", APIBase: "https://api.github.com/"},
		"https://ghe.example.com/org/repo":            {Owner: "org", Repo: "repo", APIBase: "https://ghe.example.com/api/v3/", Enterprise: true},
		"ssh://git@ghe.example.com:2222/org/repo.git": {Owner: "org", Repo: "repo", APIBase: "https://ghe.example.com:2222/api/v3/", Enterprise: true},
		"http://ghe.local:8080/org/repo":              {Owner: "org", Repo: "repo", APIBase: "http://ghe.local:8080/api/v3/", Enterprise: true},
		// Flux's quirks: the port counts, and go-github v64 adds no /api/v3/ to api. hosts.
		"https://github.com:443/foo/bar":     {Owner: "foo", Repo: "bar", APIBase: "https://github.com:443/api/v3/", Enterprise: true},
		"https://api.ghe.example.com/org/re": {Owner: "org", Repo: "re", APIBase: "https://api.ghe.example.com/", Enterprise: true},
		"https://x.api.example.com/org/re":   {Owner: "org", Repo: "re", APIBase: "https://x.api.example.com/api/v3/", Enterprise: true},
	}
	for raw, want := range tests {
		a, err := commitstatus.ParseAddress(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		got, err := a.GitHub()
		if err != nil || got != want {
			t.Errorf("%s: %+v, %v; want %+v", raw, got, err, want)
		}
	}
	errs := map[string]error{
		"https://github.com/foo":         commitstatus.ErrOwnerRepo,
		"https://github.com/foo/":        commitstatus.ErrOwnerRepo,
		"https://github.com/foo/bar/baz": commitstatus.ErrOwnerRepo,
		"ftp://ghe.example.com/o/r":      commitstatus.ErrHTTPScheme,
		"rsync://github.com/o/r":         nil, // github.com's API is fixed, whatever the scheme
	}
	for raw, want := range errs {
		a, err := commitstatus.ParseAddress(raw)
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if _, err := a.GitHub(); !errors.Is(err, want) {
			t.Errorf("%s: err = %v, want %v", raw, err, want)
		}
	}
}

func TestGitLab(t *testing.T) {
	a, _ := commitstatus.ParseAddress("https://gitlab.example.com/group/sub/repo.git")
	got, err := a.GitLab()
	if want := (commitstatus.GitLabProject{BaseURL: "https://gitlab.example.com", ID: "group/sub/repo"}); err != nil || got != want {
		t.Errorf("%+v, %v", got, err)
	}
	a, _ = commitstatus.ParseAddress("git@gitlab.com:foo/bar.git")
	if got, err := a.GitLab(); err != nil || got.BaseURL != "https://gitlab.com" || got.ID != "foo/bar" {
		t.Errorf("%+v, %v", got, err)
	}
	a, _ = commitstatus.ParseAddress("https://gitlab.com/")
	if _, err := a.GitLab(); !errors.Is(err, commitstatus.ErrNoProject) {
		t.Errorf("err = %v", err)
	}
}

func TestGitea(t *testing.T) {
	a, _ := commitstatus.ParseAddress("https://gitea.example.com:3000/o/r.git")
	got, err := a.Gitea()
	if want := (commitstatus.GiteaRepo{BaseURL: "https://gitea.example.com:3000", Owner: "o", Repo: "r"}); err != nil || got != want {
		t.Errorf("%+v, %v", got, err)
	}
}

func TestAzureDevOps(t *testing.T) {
	a, _ := commitstatus.ParseAddress("https://dev.azure.com/org/proj/_git/repo")
	got, err := a.AzureDevOps()
	want := commitstatus.AzureDevOpsRepo{OrgURL: "https://dev.azure.com/org", Organization: "org", Project: "proj", Repo: "repo"}
	if err != nil || got != want {
		t.Errorf("%+v, %v", got, err)
	}
	for _, raw := range []string{"https://dev.azure.com/org/proj/repo", "https://dev.azure.com/org/proj/_git/repo/x", "https://dev.azure.com//proj/_git/repo"} {
		a, _ := commitstatus.ParseAddress(raw)
		if _, err := a.AzureDevOps(); !errors.Is(err, commitstatus.ErrAzureDevOps) {
			t.Errorf("%s: err = %v", raw, err)
		}
	}
}

// bitbucketserver_test.go's context-path derivations.
func TestParseBitbucketServer(t *testing.T) {
	tests := map[string]string{
		"https://example.com:7990/scm/projectfoo/repobar.git":             "https://example.com:7990/rest/api/latest/projects/projectfoo/repos/repobar/commits/" + sha,
		"https://example.com/scm/projectfoo/repobar.git":                  "https://example.com/rest/api/latest/projects/projectfoo/repos/repobar/commits/" + sha,
		"http://example.com:7990/scm/projectfoo/repobar.git":              "http://example.com:7990/rest/api/latest/projects/projectfoo/repos/repobar/commits/" + sha,
		"https://example.com:7990/context/scm/projectfoo/repobar.git":     "https://example.com:7990/context/rest/api/latest/projects/projectfoo/repos/repobar/commits/" + sha,
		"https://example.com:7990/scm/context/scm/projectfoo/repobar.git": "https://example.com:7990/scm/context/rest/api/latest/projects/projectfoo/repos/repobar/commits/" + sha,
		"https://user:pw@example.com/bitbucket/scm/PRJ/repo?x=1":          "https://example.com/bitbucket/rest/api/latest/projects/PRJ/repos/repo/commits/" + sha,
	}
	for raw, want := range tests {
		r, err := commitstatus.ParseBitbucketServer(raw)
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if got := r.CommitURL(sha).String(); got != want {
			t.Errorf("%s: %s, want %s", raw, got, want)
		}
	}
	const secret = "s3cr3t-0123456789"
	for raw, want := range map[string]string{
		"ssh://git@example.com/scm/p/" + secret:      "could not parse git address: unsupported scheme type in address. Must be http or https",
		"https://example.com/p/" + secret:            "could not parse git address: supplied provider address is not http(s) git clone url",
		"https://example.com/scm/p/r/" + secret:      "could not parse git address: invalid repository id: the path after /scm/ must be <project>/<repo>",
		"https://example.com/scm/" + secret:          "could not parse git address: invalid repository id: the path after /scm/ must be <project>/<repo>",
		"https://example.com:" + secret + "/scm/p/r": "could not parse git address: not a URL",
	} {
		_, err := commitstatus.ParseBitbucketServer(raw)
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", raw, err, want)
		}
	}
}
