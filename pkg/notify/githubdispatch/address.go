package githubdispatch

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// publicHost is the host whose API lives at go-github's default,
// https://api.github.com/; any other host is GitHub Enterprise Server.
const publicHost = "github.com"

// transports are the URL schemes git-urls accepts before it tries the SCP
// form (github.com/chainguard-dev/git-urls, which Flux uses).
var transports = map[string]bool{
	"ssh": true, "git": true, "git+ssh": true, "http": true, "https": true,
	"ftp": true, "ftps": true, "rsync": true, "file": true,
}

// scpSyntax is git-urls' SCP form, [user@]host:path[?query]. Like git-urls,
// it is not tried on input longer than scpMaxLen.
var scpSyntax = regexp.MustCompile(`^([a-zA-Z0-9-._~]+@)?([a-zA-Z0-9._-]+):([a-zA-Z0-9./._-]+)(?:\?||$)(.*)$`)

const scpMaxLen = 2048

// repository is where the dispatch goes.
type repository struct {
	owner, name string
	// apiBase is the enterprise base "scheme://host[:port]", which
	// go-github completes with /api/v3/; empty for github.com.
	apiBase string
}

// parseAddress reads a repository URL as Flux's parseGitAddress does:
// https, ssh (read as https) and SCP forms, the path without its leading
// slashes and ".git" as "owner/repo". Where Flux would build a client that
// fails on every event (no host, a scheme no API speaks), it refuses the
// address now. Errors never quote the address.
func parseAddress(raw string) (repository, error) {
	u, err := url.Parse(raw)
	if err != nil || !transports[u.Scheme] {
		var m []string
		if len(raw) <= scpMaxLen {
			m = scpSyntax.FindStringSubmatch(raw)
		}
		if m == nil {
			return repository{}, errors.New("invalid repository address: not a git URL")
		}
		u = &url.URL{Scheme: "ssh", Host: m[2], Path: m[3]}
	}
	scheme := u.Scheme
	if scheme == "ssh" {
		scheme = "https"
	}

	id := strings.TrimSuffix(strings.TrimLeft(u.Path, "/"), ".git")
	owner, name, ok := strings.Cut(id, "/")
	if !ok || owner == "" || name == "" || strings.Contains(name, "/") {
		return repository{}, errors.New("invalid repository id: the address path must be <owner>/<repo>")
	}

	repo := repository{owner: owner, name: name}
	// Flux compares the host with its port, so github.com:443 is taken for
	// an enterprise server; so is it here. The scheme does not matter for
	// github.com, whose API URL is fixed.
	if u.Host == publicHost {
		return repo, nil
	}
	switch {
	case u.Host == "":
		return repository{}, errors.New("invalid repository address: no host")
	case scheme != "http" && scheme != "https":
		return repository{}, errors.New("invalid repository address: an enterprise server URL must use http, https or ssh")
	}
	repo.apiBase = scheme + "://" + u.Host
	return repo, nil
}
