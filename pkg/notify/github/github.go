// Package github sets commit statuses on GitHub and GitHub Enterprise
// Server through go-github, as Flux's internal/notifier/github.go does
// (behaviour reference §4.3): it lists the commit's statuses
// (GET /repos/{o}/{r}/commits/{sha}/statuses?per_page=50) and creates one
// (POST /repos/{o}/{r}/statuses/{sha}) only when the newest status with the
// same context differs in state or description.
package github

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
)

// Notifier sets commit statuses on one repository.
type Notifier struct {
	// Now turns rate-limit resets and Retry-After dates into delays. New
	// sets time.Now, or the clock of WithClock.
	Now func() time.Time

	uid     string
	repo    commitstatus.GitHubRepo
	client  *gh.Client
	app     *githubapp.Source
	secrets []notify.Secret
}

var (
	_ notify.Notifier             = (*Notifier)(nil)
	_ commitstatus.StatusNotifier = (*Notifier)(nil)
)

// New builds a github commit-status notifier. cfg.Address is the
// repository URL (https, ssh or SCP form); github.com goes to
// api.github.com, any other host to its Enterprise API at <host>/api/v3/.
// The token is cfg.Token, or cfg.Password when the token is empty, as Flux
// reads GitHub secrets; without either, the secret must hold GitHub App keys
// (see package githubapp). Requests go through cfg.HTTPClient, so the
// Provider's proxy and CA apply to every GitHub host, where Flux sends API
// calls without the proxy and uses the CA for Enterprise hosts only.
func New(cfg notify.Config, opts ...githubapp.Option) (*Notifier, error) {
	conn, err := githubapp.Connect(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: conn.Now, uid: cfg.UID, repo: conn.Repo, client: conn.Client, app: conn.App, secrets: conn.Secrets}, nil
}

// Notify sets the status with the default id, built from the Provider's
// UID and the involved object.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return n.NotifyCommitStatus(ctx, ev, commitstatus.DefaultID(n.uid, ev))
}

// NotifyCommitStatus sets the status statusID on the event's commit, unless
// the newest status of that context already has the same state and
// description. Progressing events are skipped, as in Flux.
func (n *Notifier) NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error) {
	s, skip, err := commitstatus.For(commitstatus.GitHub, ev, statusID)
	if skip || err != nil {
		return false, err
	}
	var token notify.Secret
	if n.app != nil {
		// The transport asks again for every call; this surfaces the App's
		// errors with their own classification, and the token for masking.
		if token, err = n.app.Token(ctx); err != nil {
			return notify.Outcome(n.fail("could not get a GitHub App installation token: ", err, ""))
		}
	}
	owner, repo := n.repo.Owner, n.repo.Repo
	statuses, resp, err := n.client.Repositories.ListStatuses(ctx, owner, repo, s.Commit, &gh.ListOptions{PerPage: 50})
	if err != nil && !success(resp) {
		return notify.Outcome(n.fail("could not list commit statuses: ", err, token))
	}
	if duplicate(statuses, s) {
		return false, nil
	}
	_, resp, err = n.client.Repositories.CreateStatus(ctx, owner, repo, s.Commit, gh.RepoStatus{
		State:       &s.State,
		Description: &s.Description,
		Context:     &s.ID,
	})
	if err != nil && !success(resp) {
		if githubapp.TooManyStatuses(err) {
			slog.Warn("github refuses more statuses for this commit and context (1,000 at most); the status is not set",
				"owner", owner, "repo", repo, "commit", s.Commit, "context", s.ID)
		}
		return notify.Outcome(n.fail("could not create commit status: ", err, token))
	}
	return false, nil
}

// success reports a 2xx answer, which go-github may still call an error
// (202, or a body it cannot decode). A list it cannot read is taken as
// empty, so the status is set; a created status is created.
func success(resp *gh.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// duplicate is Flux's duplicateGithubStatus: the first (newest) status with
// the same context decides, and entries missing a field are ignored.
func duplicate(statuses []*gh.RepoStatus, s commitstatus.Status) bool {
	for _, st := range statuses {
		if st == nil || st.Context == nil || st.State == nil || st.Description == nil {
			continue
		}
		if *st.Context == s.ID {
			return *st.State == s.State && *st.Description == s.Description
		}
	}
	return false
}

// fail classifies err and masks the Provider's secrets and the App token
// out of Flux's text.
func (n *Notifier) fail(prefix string, err error, token notify.Secret) error {
	e := githubapp.Classify(err, n.Now())
	e.Err = notify.MaskError(fmt.Errorf("%s%w", prefix, err), e.Retryable, append(n.secrets, token)...).Err
	return e
}
