// Package bitbucketserver sets build statuses on Bitbucket Server and Data
// Center, as Flux's internal/notifier/bitbucketserver.go does (behaviour
// reference §4.3), over the shared poster: it reads the status with the
// commit's key (GET {base}/builds?key={key}, where a 404 means there is
// none) and posts one (POST {base}/builds) unless key, state, description
// and name are all equal. {base} is
// {scheme}://{host}{context}/rest/api/latest/projects/{PROJECT}/repos/{repo}/commits/{sha}.
package bitbucketserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/internal/statushttp"
)

// Notifier sets build statuses on one repository.
type Notifier struct {
	uid     string
	repo    commitstatus.BitbucketServerRepo
	address string // the status url: the Provider address
	auth    []notify.PostOption
	ep      notify.Endpoint
}

var (
	_ notify.Notifier             = (*Notifier)(nil)
	_ commitstatus.StatusNotifier = (*Notifier)(nil)
)

// buildStatus is Flux's bbServerBuildStatusSetRequest for the POST, with its
// field order and omitempty tags, and what the GET answers with.
type buildStatus struct {
	Description string `json:"description,omitempty"`
	Key         string `json:"key"`
	Name        string `json:"name,omitempty"`
	State       string `json:"state"`
	URL         string `json:"url"`
}

// New builds a bitbucketserver commit-status notifier. cfg.Address is the
// repository's http(s) clone URL, which contains /scm/: what comes before
// the last /scm/ is the server's context path, and what follows must be
// <PROJECT>/<repo>. cfg.Token is sent as a bearer token; without it
// cfg.Username and cfg.Password are required for basic auth. The address
// is also the link of every status, without any userinfo it holds, where
// Flux would show its password to everyone who sees the status.
func New(cfg notify.Config) (*Notifier, error) {
	raw := cfg.Address.Reveal()
	repo, err := commitstatus.ParseBitbucketServer(raw)
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" && (cfg.Username == "" || cfg.Password == "") {
		return nil, errors.New("invalid credentials, expected to be one of username/password or API Token")
	}
	auth := []notify.PostOption{notify.WithBasicAuth(cfg.Username, cfg.Password)}
	if cfg.Token != "" {
		auth = []notify.PostOption{notify.WithBearer(cfg.Token)}
	}
	auth = append(auth,
		notify.WithHeader("X-Atlassian-Token", "no-check"),
		notify.WithHeader("X-Requested-With", "XMLHttpRequest"))
	if u, err := url.Parse(raw); err == nil && u.User != nil {
		u.User = nil
		raw = u.String()
	}
	return &Notifier{
		uid:     cfg.UID,
		repo:    repo,
		address: raw,
		auth:    auth,
		ep:      notify.Endpoint{Client: statushttp.Client(cfg.Client()), Secrets: cfg.SecretValues()},
	}, nil
}

// Notify sets the status with the default id, built from the Provider's
// UID and the involved object.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return n.NotifyCommitStatus(ctx, ev, commitstatus.DefaultID(n.uid, ev))
}

// NotifyCommitStatus sets the build status keyed by the SHA-1 of statusID
// on the event's commit, unless it is already there with the same state,
// description and name. Progressing events are skipped, as in Flux, and the
// errors before any call are Flux's texts.
func (n *Notifier) NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error) {
	if statusID == "" {
		return false, notify.Permanent(errors.New("commit status cannot be empty"))
	}
	if ev.Reason == commitstatus.ReasonProgressing {
		return false, nil
	}
	rev, ok := ev.GetRevision()
	if !ok {
		return false, notify.Permanent(errors.New("missing revision metadata"))
	}
	commit, err := commitstatus.ExtractCommit(rev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("could not parse revision: %w", err))
	}
	state, err := commitstatus.State(commitstatus.BitbucketServer, ev)
	if err != nil {
		return false, notify.Permanent(fmt.Errorf("couldn't convert to bitbucket server state: %w", err))
	}
	desc := commitstatus.Description(ev)
	want := buildStatus{
		Description: desc,
		Key:         commitstatus.Key(statusID),
		// Bitbucket Server shows the name, so Flux adds the description.
		Name:  commitstatus.Name(ev) + " [" + desc + "]",
		State: state,
		URL:   n.address,
	}
	builds := n.repo.CommitURL(commit).JoinPath("builds")

	get := *builds
	get.RawQuery = url.Values{"key": {want.Key}}.Encode()
	var got buildStatus
	found, err := statushttp.Get(ctx, n.ep.At(get.String()), &got, n.auth...)
	if err != nil {
		return notify.Outcome(statushttp.Wrap("could not get existing commit status: ", err))
	}
	if found && got.Key == want.Key && got.State == want.State && got.Description == want.Description && got.Name == want.Name {
		return false, nil
	}
	var body bytes.Buffer
	// Flux encodes with json.Encoder: HTML escaped, with a trailing newline.
	if err := json.NewEncoder(&body).Encode(want); err != nil {
		return false, notify.Permanent(fmt.Errorf("could not post build status: %w", err))
	}
	err = n.ep.At(builds.String()).Send(ctx, http.MethodPost, body.Bytes(), n.auth...)
	return notify.Outcome(statushttp.Wrap("could not post build status: ", err))
}
