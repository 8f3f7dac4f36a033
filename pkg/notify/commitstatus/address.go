package commitstatus

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// Address is a repository address read as Flux's parseGitAddress reads it
// (github.com/chainguard-dev/git-urls): https, ssh (read as https) and the
// SCP form git@host:owner/repo.git.
type Address struct {
	// Scheme is the URL scheme, https for ssh and the SCP form.
	Scheme string
	// Host is scheme://host[:port], Flux's "host".
	Host string
	// Hostname is host[:port] without the scheme.
	Hostname string
	// ID is the path without its leading slashes and trailing ".git":
	// owner/repo, a GitLab project with its subgroups, and so on.
	ID string
}

// transports are the URL schemes git-urls accepts before it tries the SCP
// form.
var transports = map[string]bool{
	"ssh": true, "git": true, "git+ssh": true, "http": true, "https": true,
	"ftp": true, "ftps": true, "rsync": true, "file": true,
}

// scpSyntax is git-urls' SCP form, [user@]host:path[?query]. Like git-urls,
// it is not tried on input longer than scpMaxLen.
var scpSyntax = regexp.MustCompile(`^([a-zA-Z0-9-._~]+@)?([a-zA-Z0-9._-]+):([a-zA-Z0-9./._-]+)(?:\?||$)(.*)$`)

const scpMaxLen = 2048

// Errors of ParseAddress and the host helpers. They never quote the address,
// which may hold credentials.
var (
	ErrNoHost       = errors.New("invalid repository address: not a git URL with a host")
	ErrOwnerRepo    = errors.New("invalid repository id: the address path must be <owner>/<repo>")
	ErrNoProject    = errors.New("invalid repository id: the address has no project path")
	ErrAzureDevOps  = errors.New("invalid repository id: the address path must be <organization>/<project>/_git/<repository>")
	ErrHTTPScheme   = errors.New("invalid repository address: a self-hosted server URL must use http, https or ssh")
	ErrBitbucketSrv = errors.New("could not parse git address: supplied provider address is not http(s) git clone url")
)

// ParseAddress reads a repository address. Where git-urls would read any
// other text as a local path, whose "host" no API answers on, it fails.
func ParseAddress(raw string) (Address, error) {
	u, err := url.Parse(raw)
	if err != nil || !transports[u.Scheme] {
		var m []string
		if len(raw) <= scpMaxLen {
			m = scpSyntax.FindStringSubmatch(raw)
		}
		if m == nil {
			return Address{}, ErrNoHost
		}
		u = &url.URL{Scheme: "ssh", Host: m[2], Path: m[3]}
	}
	if u.Host == "" {
		return Address{}, ErrNoHost
	}
	scheme := u.Scheme
	if scheme == "ssh" {
		scheme = "https"
	}
	return Address{
		Scheme:   scheme,
		Host:     scheme + "://" + u.Host,
		Hostname: u.Host,
		ID:       strings.TrimSuffix(strings.TrimLeft(u.Path, "/"), ".git"),
	}, nil
}

// OwnerRepo splits an owner/repo id, the form GitHub, Gitea and Bitbucket
// Cloud require exactly.
func (a Address) OwnerRepo() (owner, repo string, err error) {
	owner, repo, ok := strings.Cut(a.ID, "/")
	if !ok || owner == "" || repo == "" || strings.Contains(repo, "/") {
		return "", "", ErrOwnerRepo
	}
	return owner, repo, nil
}

// selfHosted fails for a scheme no self-hosted API speaks (ftp, rsync, ...).
func (a Address) selfHosted() error {
	if a.Scheme != "http" && a.Scheme != "https" {
		return ErrHTTPScheme
	}
	return nil
}

// GitHubRepo is a repository on github.com or a GitHub Enterprise Server.
type GitHubRepo struct {
	Owner, Repo string
	// APIBase is the REST API's base URL: https://api.github.com/ for
	// github.com, else the Enterprise API <host>/api/v3/.
	APIBase string
	// Enterprise is false for github.com.
	Enterprise bool
}

// GitHubPublicHost is the host whose API is at https://api.github.com/.
const GitHubPublicHost = "github.com"

// GitHub reads a GitHub repository: the id must be exactly owner/repo, and
// any host but github.com is an Enterprise Server. As in Flux, the host is
// compared with its port, so github.com:443 is taken for an Enterprise
// Server. The Enterprise base follows go-github v64's WithEnterpriseURLs,
// which Flux uses: /api/v3/ is added unless the host starts with "api." or
// contains ".api.github.com"; newer go-github majors leave a base that
// already ends in /api/v3/ as it is.
func (a Address) GitHub() (GitHubRepo, error) {
	owner, repo, err := a.OwnerRepo()
	if err != nil {
		return GitHubRepo{}, err
	}
	r := GitHubRepo{Owner: owner, Repo: repo, APIBase: "https://api.github.com/"}
	if a.Hostname == GitHubPublicHost {
		return r, nil
	}
	if err := a.selfHosted(); err != nil {
		return GitHubRepo{}, err
	}
	r.Enterprise = true
	r.APIBase = a.Host + "/"
	if !strings.HasPrefix(a.Hostname, "api.") && !strings.Contains(a.Hostname, ".api.github.com") {
		r.APIBase += "api/v3/"
	}
	return r, nil
}

// GitLabProject is a project on a GitLab server.
type GitLabProject struct {
	// BaseURL is scheme://host[:port]; the client adds /api/v4/.
	BaseURL string
	// ID is the project path with its subgroups (group/sub/repo), which the
	// API wants path-escaped (group%2Fsub%2Frepo).
	ID string
}

// GitLab reads a GitLab project. Every group level is kept.
func (a Address) GitLab() (GitLabProject, error) {
	if err := a.selfHosted(); err != nil {
		return GitLabProject{}, err
	}
	if a.ID == "" {
		return GitLabProject{}, ErrNoProject
	}
	return GitLabProject{BaseURL: a.Host, ID: a.ID}, nil
}

// GiteaRepo is a repository on a Gitea or Forgejo server.
type GiteaRepo struct {
	// BaseURL is scheme://host[:port]; the SDK adds /api/v1/.
	BaseURL     string
	Owner, Repo string
}

// Gitea reads a Gitea repository: exactly owner/repo.
func (a Address) Gitea() (GiteaRepo, error) {
	owner, repo, err := a.OwnerRepo()
	if err != nil {
		return GiteaRepo{}, err
	}
	if err := a.selfHosted(); err != nil {
		return GiteaRepo{}, err
	}
	return GiteaRepo{BaseURL: a.Host, Owner: owner, Repo: repo}, nil
}

// AzureDevOpsRepo is a repository in an Azure DevOps organization.
type AzureDevOpsRepo struct {
	// OrgURL is <host>/<organization>.
	OrgURL                string
	Organization, Project string
	Repo                  string
}

// AzureDevOps reads org/project/_git/repo. Like Flux it requires exactly
// four segments and does not check that the third is "_git".
func (a Address) AzureDevOps() (AzureDevOpsRepo, error) {
	comp := strings.Split(a.ID, "/")
	if len(comp) != 4 || comp[0] == "" || comp[1] == "" || comp[3] == "" {
		return AzureDevOpsRepo{}, ErrAzureDevOps
	}
	if err := a.selfHosted(); err != nil {
		return AzureDevOpsRepo{}, err
	}
	return AzureDevOpsRepo{OrgURL: a.Host + "/" + comp[0], Organization: comp[0], Project: comp[1], Repo: comp[3]}, nil
}

// BitbucketServerRepo is a repository on a Bitbucket Server or Data Center.
type BitbucketServerRepo struct {
	// Scheme and Host (host[:port]) of the clone URL.
	Scheme, Host string
	// ContextPath is what comes before the last /scm/, often empty.
	ContextPath string
	Project     string
	Repo        string
}

// bitbucketServerSCM is part of every Bitbucket Server http(s) clone URL.
const bitbucketServerSCM = "/scm/"

// ParseBitbucketServer reads a Bitbucket Server http(s) clone URL as Flux's
// parseBitbucketServerGitAddress does: the text before the last /scm/ is
// the context path, and what follows it must be PROJECT/repo (".git"
// removed). Unlike the other hosts, it takes no ssh or SCP form.
func ParseBitbucketServer(raw string) (BitbucketServerRepo, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return BitbucketServerRepo{}, errors.New("could not parse git address: not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return BitbucketServerRepo{}, errors.New("could not parse git address: unsupported scheme type in address. Must be http or https")
	}
	if u.Host == "" {
		return BitbucketServerRepo{}, ErrBitbucketSrv
	}
	idWithContext := strings.TrimSuffix(u.Path, ".git")
	i := strings.LastIndex(idWithContext, bitbucketServerSCM)
	if i < 0 {
		return BitbucketServerRepo{}, ErrBitbucketSrv
	}
	project, repo, ok := strings.Cut(idWithContext[i+len(bitbucketServerSCM):], "/")
	if !ok || project == "" || repo == "" || strings.Contains(repo, "/") {
		return BitbucketServerRepo{}, errors.New("could not parse git address: invalid repository id: the path after /scm/ must be <project>/<repo>")
	}
	return BitbucketServerRepo{Scheme: u.Scheme, Host: u.Host, ContextPath: idWithContext[:i], Project: project, Repo: repo}, nil
}

// CommitURL is the REST resource of a commit, to which Bitbucket Server's
// build status calls add /builds:
// scheme://host<ctx>/rest/api/latest/projects/<project>/repos/<repo>/commits/<sha>.
func (r BitbucketServerRepo) CommitURL(sha string) *url.URL {
	return &url.URL{
		Scheme: r.Scheme,
		Host:   r.Host,
		Path:   r.ContextPath + "/rest/api/latest/projects/" + r.Project + "/repos/" + r.Repo + "/commits/" + sha,
	}
}
