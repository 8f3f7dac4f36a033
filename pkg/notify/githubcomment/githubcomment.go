// Package githubcomment is Flux's githubpullrequestcomment provider
// (behaviour reference §4.4, internal/notifier/github_pull_request_comment.go):
// one comment per object on the pull request named by the event's
// change_request metadata, edited in place on later events. Each event
// makes, in order, GET /user (with a token; an App's author is
// "<slug>[bot]" instead), GET
// /repos/{o}/{r}/issues/{n}/comments?direction=asc&per_page=100&sort=created,
// then PATCH /repos/{o}/{r}/issues/comments/{id} on the first comment by
// that user holding the marker, or POST .../issues/{n}/comments. Flux
// looks the user up when it builds the notifier, which it does per event;
// Herald does it per event too, so the sequence is Flux's. With an App,
// Flux asks GET /app once per installation token and caches the slug with
// it; Herald asks once per notifier. Requests are go-github's, as package
// github describes: no retries, no redirect to another host.
package githubcomment

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	gh "github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
	"github.com/heraldhq/herald/pkg/notify/gitsdk"
)

// Notifier comments on pull requests of one GitHub repository.
type Notifier struct {
	// Now turns rate-limit resets and Retry-After dates into delays. New
	// sets time.Now, or the clock of WithClock.
	Now func() time.Time

	uid     string
	repo    commitstatus.GitHubRepo
	client  *gh.Client
	app     *githubapp.Source
	secrets []notify.Secret

	mu   sync.Mutex
	slug string // the App's, once known
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a githubpullrequestcomment notifier. The Provider's UID, which
// the marker holds, must be set. The address, token and GitHub App keys
// are read as package github reads them: github.com goes to
// api.github.com, any other host to <host>/api/v3/; the token is cfg.Token
// or cfg.Password; without either, the secret must hold App keys.
func New(cfg notify.Config, opts ...githubapp.Option) (*Notifier, error) {
	if cfg.UID == "" {
		return nil, errors.New("provider UID cannot be empty")
	}
	conn, err := githubapp.Connect(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: conn.Now, uid: cfg.UID, repo: conn.Repo, client: conn.Client, app: conn.App, secrets: conn.Secrets}, nil
}

// Notify creates or edits the object's comment on the pull request.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	marker := gitsdk.Marker(gitsdk.PRCommentKey, n.uid, ev)
	body := gitsdk.CommentBody(marker, ev)
	pr, err := gitsdk.ChangeRequest(ev, gitsdk.Atoi)
	if err != nil {
		return false, notify.Permanent(err)
	}
	login, token, err := n.author(ctx)
	if err != nil {
		return notify.Outcome(err)
	}
	owner, repo := n.repo.Owner, n.repo.Repo
	comments, resp, err := n.client.Issues.ListComments(ctx, owner, repo, int(pr), &gh.IssueListCommentsOptions{
		Sort:        new("created"),
		Direction:   new("asc"),
		ListOptions: gh.ListOptions{PerPage: 100},
	})
	if err != nil && !success(resp) {
		return notify.Outcome(n.fail("failed to list pull request comments: ", err, token))
	}
	for _, c := range comments {
		if login != "" && c.GetUser().GetLogin() == login && strings.Contains(c.GetBody(), marker) {
			_, resp, err = n.client.Issues.UpdateComment(ctx, owner, repo, c.GetID(), gh.IssueCommentRequest{Body: body})
			if err != nil && !success(resp) {
				return notify.Outcome(n.fail("failed to update pull request comment: ", err, token))
			}
			return false, nil
		}
	}
	_, resp, err = n.client.Issues.CreateComment(ctx, owner, repo, int(pr), gh.IssueCommentRequest{Body: body})
	if err != nil && !success(resp) {
		return notify.Outcome(n.fail("failed to create pull request comment: ", err, token))
	}
	return false, nil
}

// author is the login the notifier's comments are by, and the App's
// installation token, which errors must not show. A token's user comes
// from GET /user; an App's comments are by "<slug>[bot]". A user or App
// answer that cannot be read gives "", which matches no comment.
func (n *Notifier) author(ctx context.Context) (login string, token notify.Secret, err error) {
	if n.app == nil {
		user, resp, err := n.client.Users.Get(ctx, "")
		if err != nil && !success(resp) {
			return "", "", n.fail("failed to get authenticated user info: ", err, "")
		}
		return user.GetLogin(), "", nil
	}
	slug, err := n.appSlug(ctx)
	if err != nil {
		return "", "", n.fail("", err, "")
	}
	// The transport asks again for every call; this surfaces the App's
	// errors with their own classification, and the token for masking.
	if token, err = n.app.Token(ctx); err != nil {
		return "", "", n.fail("could not get a GitHub App installation token: ", err, "")
	}
	return slug + "[bot]", token, nil
}

// appSlug asks GitHub for the App's slug once per notifier.
func (n *Notifier) appSlug(ctx context.Context) (string, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.slug == "" {
		slug, err := n.app.Slug(ctx)
		if err != nil {
			return "", err
		}
		n.slug = slug
	}
	return n.slug, nil
}

// success reports a 2xx answer, which go-github may still call an error
// (202, or a body it cannot decode): an unreadable user or list finds no
// comment, and a comment written is written.
func success(resp *gh.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299
}

// fail classifies err with the GitHub rules (githubapp.Classify: rate
// limits wait for their reset or Retry-After) and masks the Provider's
// secrets and the App token out of Flux's text.
func (n *Notifier) fail(prefix string, err error, token notify.Secret) error {
	e := githubapp.Classify(err, n.Now())
	e.Err = notify.MaskError(fmt.Errorf("%s%w", prefix, err), e.Retryable, append(n.secrets, token)...).Err
	return e
}
