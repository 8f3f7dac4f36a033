// Package gitlab sets commit statuses on GitLab (gitlab.com or a
// self-hosted server) through GitLab's client-go, as Flux's
// internal/notifier/gitlab.go does (behaviour reference §4.3): it lists the
// commit's statuses with the status name
// (GET /api/v4/projects/{id}/repository/commits/{sha}/statuses?name={name})
// and creates one (POST /api/v4/projects/{id}/statuses/{sha}, body
// {"state","name","description"}) only when no listed status has the same
// sha, state, description and name. Progressing events are skipped.
//
// What client-go v2.64.0 sends, as the fake in gitlabtest checks it:
// PRIVATE-TOKEN: <token>, User-Agent: go-gitlab, Accept: application/json,
// and Content-Type: application/json with a body. The project id keeps its
// subgroups and is path-escaped (group%2Fsub%2Frepo). There is no
// handshake. The SDK retries up to five times by itself (100-400 ms waits)
// and, once a response carries RateLimit-Limit, paces later calls with its
// own limiter: New switches both off (WithoutRetries, RetryMax 0, a limiter
// that never waits), since the queue owns retries and Retry-After. On a
// transport error go-retryablehttp closes the idle connections of the
// client it was given.
package gitlab

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/gitsdk"
)

// Notifier sets commit statuses on one GitLab project.
type Notifier struct {
	// Now turns a Retry-After date into a delay; New sets time.Now.
	Now func() time.Time

	uid     string
	project commitstatus.GitLabProject
	client  *gl.Client
	secrets []notify.Secret
}

var (
	_ notify.Notifier             = (*Notifier)(nil)
	_ commitstatus.StatusNotifier = (*Notifier)(nil)
)

// ErrNoToken is Flux's error for a GitLab Provider without a token.
var ErrNoToken = errors.New("gitlab token cannot be empty")

// New builds a gitlab commit-status notifier. cfg.Address is the project
// URL (https, ssh or SCP form, any number of subgroups); the API is at
// <scheme>://<host>/api/v4/ for gitlab.com and self-hosted servers alike.
// The token is cfg.Token, or cfg.Password when the token is empty.
// Requests go through cfg.HTTPClient, so the Provider's proxy and CA apply
// (Flux uses no proxy for GitLab), and follow redirects on the same host
// only.
func New(cfg notify.Config) (*Notifier, error) {
	project, client, err := NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: time.Now, uid: cfg.UID, project: project, client: client, secrets: gitsdk.Secrets(cfg)}, nil
}

// NewClient checks cfg's token and address as Flux does and builds the
// client-go client both GitLab providers use, with its retries and rate
// limiter off.
func NewClient(cfg notify.Config) (commitstatus.GitLabProject, *gl.Client, error) {
	token := gitsdk.Token(cfg)
	if token == "" {
		return commitstatus.GitLabProject{}, nil, ErrNoToken
	}
	addr, err := commitstatus.ParseAddress(cfg.Address.Reveal())
	if err != nil {
		return commitstatus.GitLabProject{}, nil, err
	}
	project, err := addr.GitLab()
	if err != nil {
		return commitstatus.GitLabProject{}, nil, err
	}
	client, err := gl.NewClient(token.Reveal(),
		gl.WithURLWarningLogger(slog.New(slog.DiscardHandler)),
		gl.WithBaseURL(project.BaseURL),
		gl.WithHTTPClient(gitsdk.Client(cfg)),
		gl.WithoutRetries(),
		gl.WithCustomRetryMax(0),
		gl.WithCustomLimiter(noLimit{}),
	)
	if err != nil {
		// Its text would quote the URL, which ParseAddress has vetted.
		return commitstatus.GitLabProject{}, nil, errors.New("could not create GitLab client")
	}
	return project, client, nil
}

// noLimit is a rate limiter that never waits: GitLab's 429 and its
// Retry-After go to the queue instead.
type noLimit struct{}

func (noLimit) Wait(context.Context) error { return nil }

// Notify sets the status with the default id, built from the Provider's
// UID and the involved object.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return n.NotifyCommitStatus(ctx, ev, commitstatus.DefaultID(n.uid, ev))
}

// NotifyCommitStatus sets the status statusID on the event's commit unless
// GitLab lists an identical one. Progressing events are skipped.
func (n *Notifier) NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error) {
	s, skip, err := commitstatus.For(commitstatus.GitLab, ev, statusID)
	if skip || err != nil {
		return false, err
	}
	statuses, resp, err := n.client.Commits.GetCommitStatuses(n.project.ID, s.Commit,
		&gl.GetCommitStatusesOptions{Name: &s.ID}, gl.WithContext(ctx))
	if err != nil && !success(resp) {
		return notify.Outcome(gitsdk.Fail("unable to list commit status: ", httpResponse(resp), err, n.Now(), n.secrets))
	}
	if duplicate(statuses, s) {
		return false, nil
	}
	_, resp, err = n.client.Commits.SetCommitStatus(n.project.ID, s.Commit, &gl.SetCommitStatusOptions{
		State:       gl.BuildStateValue(s.State),
		Name:        &s.ID,
		Description: &s.Description,
	}, gl.WithContext(ctx))
	if err != nil && !success(resp) {
		return notify.Outcome(gitsdk.Fail("", httpResponse(resp), err, n.Now(), n.secrets))
	}
	return false, nil
}

// duplicate is Flux's duplicateGitlabStatus: any listed status of the
// commit with the same state, description and name.
func duplicate(statuses []*gl.CommitStatus, s commitstatus.Status) bool {
	for _, st := range statuses {
		if st != nil && st.SHA == s.Commit && st.Status == s.State && st.Description == s.Description && st.Name == s.ID {
			return true
		}
	}
	return false
}

// success reports a 2xx answer, which client-go still calls an error when
// it cannot decode the body. A list it cannot read is taken as empty, so
// the status is set; a created status is created.
func success(resp *gl.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// httpResponse is the HTTP response behind a client-go response, or nil.
func httpResponse(resp *gl.Response) *http.Response {
	if resp == nil {
		return nil
	}
	return resp.Response
}
