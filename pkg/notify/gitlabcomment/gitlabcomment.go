// Package gitlabcomment is Flux's gitlabmergerequestcomment provider
// (behaviour reference §4.4, internal/notifier/gitlab_merge_request_comment.go):
// one note per object on the merge request named by the event's
// change_request metadata, edited in place on later events. Each event
// makes, in order, GET /api/v4/user, GET
// /api/v4/projects/{id}/merge_requests/{iid}/notes?order_by=created_at&per_page=100&sort=asc,
// then PUT .../notes/{note} on the first note by that user holding the
// marker, or POST .../notes. Flux looks the user up when it builds the
// notifier, which it does per event; Herald does it per event too, so the
// sequence is Flux's. Requests are client-go's, as package gitlab
// describes, with its retries and limiter off.
package gitlabcomment

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	gl "gitlab.com/gitlab-org/api/client-go/v2"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/gitlab"
	"github.com/heraldhq/herald/pkg/notify/gitsdk"
)

// Notifier comments on merge requests of one GitLab project.
type Notifier struct {
	// Now turns a Retry-After date into a delay; New sets time.Now.
	Now func() time.Time

	uid     string
	project commitstatus.GitLabProject
	client  *gl.Client
	secrets []notify.Secret
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a gitlabmergerequestcomment notifier: the address and token
// are read as package gitlab reads them, and the Provider's UID, which
// the marker holds, must be set.
func New(cfg notify.Config) (*Notifier, error) {
	if cfg.UID == "" {
		return nil, errors.New("provider UID cannot be empty")
	}
	project, client, err := gitlab.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: time.Now, uid: cfg.UID, project: project, client: client, secrets: gitsdk.Secrets(cfg)}, nil
}

// Notify creates or edits the object's note on the merge request.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	marker := gitsdk.Marker(gitsdk.MRCommentKey, n.uid, ev)
	body := gitsdk.CommentBody(marker, ev)
	iid, err := gitsdk.ChangeRequest(ev, gitsdk.ParseInt)
	if err != nil {
		return false, notify.Permanent(err)
	}
	user, resp, err := n.client.Users.CurrentUser(gl.WithContext(ctx))
	if err != nil && !success(resp) {
		return n.fail("failed to get authenticated user info: ", resp, err)
	}
	notes, resp, err := n.client.Notes.ListMergeRequestNotes(n.project.ID, iid, &gl.ListMergeRequestNotesOptions{
		Sort:        gl.Ptr("asc"),
		OrderBy:     gl.Ptr("created_at"),
		ListOptions: gl.ListOptions{PerPage: 100},
	}, gl.WithContext(ctx))
	if err != nil && !success(resp) {
		return n.fail("failed to list merge request notes: ", resp, err)
	}
	username := ""
	if user != nil {
		username = user.Username
	}
	for _, note := range notes {
		if note != nil && username != "" && note.Author.Username == username && strings.Contains(note.Body, marker) {
			_, resp, err = n.client.Notes.UpdateMergeRequestNote(n.project.ID, iid, note.ID,
				&gl.UpdateMergeRequestNoteOptions{Body: &body}, gl.WithContext(ctx))
			if err != nil && !success(resp) {
				return n.fail("failed to update merge request note: ", resp, err)
			}
			return false, nil
		}
	}
	_, resp, err = n.client.Notes.CreateMergeRequestNote(n.project.ID, iid,
		&gl.CreateMergeRequestNoteOptions{Body: &body}, gl.WithContext(ctx))
	if err != nil && !success(resp) {
		return n.fail("failed to create merge request note: ", resp, err)
	}
	return false, nil
}

// success reports a 2xx answer, which client-go still calls an error when
// it cannot decode the body: an unreadable user or list finds no note, and
// a note written is written.
func success(resp *gl.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299
}

func (n *Notifier) fail(prefix string, resp *gl.Response, err error) (bool, error) {
	var r *http.Response
	if resp != nil {
		r = resp.Response
	}
	return notify.Outcome(gitsdk.Fail(prefix, r, err, n.Now(), n.secrets))
}
