// Package giteacomment is Flux's giteapullrequestcomment provider
// (behaviour reference §4.4, internal/notifier/gitea_pull_request_comment.go):
// one comment per object on the pull request named by the event's
// change_request metadata, edited in place on later events. Each event
// makes, in order, GET /api/v1/version (the SDK's handshake), GET
// /api/v1/user, GET /api/v1/repos/{o}/{r}/issues/{n}/comments?limit=100&page=1,
// then PATCH .../issues/comments/{id} on the first comment by that user
// holding the marker, or POST .../issues/{n}/comments, each bound to the
// attempt's context. Requests are the SDK's, as package gitea describes.
package giteacomment

import (
	"context"
	"errors"
	"strings"
	"time"

	sdk "code.gitea.io/sdk/gitea"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/gitea"
	"github.com/heraldhq/herald/pkg/notify/gitsdk"
)

// Notifier comments on pull requests of one Gitea repository.
type Notifier struct {
	// Now turns a Retry-After date into a delay; New sets time.Now.
	Now func() time.Time

	uid  string
	conn *gitea.Conn
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a giteapullrequestcomment notifier: the address and token are
// read as package gitea reads them, and the Provider's UID, which the
// marker holds, must be set.
func New(cfg notify.Config) (*Notifier, error) {
	if cfg.UID == "" {
		return nil, errors.New("provider UID cannot be empty")
	}
	conn, err := gitea.NewConn(cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: time.Now, uid: cfg.UID, conn: conn}, nil
}

// Notify creates or edits the object's comment on the pull request.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	marker := gitsdk.Marker(gitsdk.PRCommentKey, n.uid, ev)
	body := gitsdk.CommentBody(marker, ev)
	pr, err := gitsdk.ChangeRequest(ev, gitsdk.Atoi)
	if err != nil {
		return false, notify.Permanent(err)
	}
	client, err := n.conn.Client(ctx, n.Now())
	if err != nil {
		return notify.Outcome(err)
	}
	user, resp, err := client.GetMyUserInfo()
	if err != nil && !success(resp) {
		return n.fail("failed to get authenticated user info: ", resp, err)
	}
	repo := n.conn.Repo
	comments, resp, err := client.ListIssueComments(repo.Owner, repo.Repo, pr,
		sdk.ListIssueCommentOptions{ListOptions: sdk.ListOptions{Page: 1, PageSize: 100}})
	if err != nil && !success(resp) {
		return n.fail("failed to list pull request comments: ", resp, err)
	}
	login := ""
	if user != nil {
		login = user.UserName
	}
	for _, c := range comments {
		if c != nil && c.Poster != nil && login != "" && c.Poster.UserName == login && strings.Contains(c.Body, marker) {
			_, resp, err = client.EditIssueComment(repo.Owner, repo.Repo, c.ID, sdk.EditIssueCommentOption{Body: body})
			if err != nil && !success(resp) {
				return n.fail("failed to update pull request comment: ", resp, err)
			}
			return false, nil
		}
	}
	_, resp, err = client.CreateIssueComment(repo.Owner, repo.Repo, pr, sdk.CreateIssueCommentOption{Body: body})
	if err != nil && !success(resp) {
		return n.fail("failed to create pull request comment: ", resp, err)
	}
	return false, nil
}

func (n *Notifier) fail(prefix string, resp *sdk.Response, err error) (bool, error) {
	return notify.Outcome(n.conn.Fail(prefix, resp, err, n.Now()))
}

// success reports a 2xx answer, which the SDK still calls an error when it
// cannot decode the body: an unreadable user or list finds no comment, and
// a comment written is written.
func success(resp *sdk.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299
}
