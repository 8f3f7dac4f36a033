// Package gitea sets commit statuses on Gitea and Forgejo through the
// Gitea SDK, as Flux's internal/notifier/gitea.go does (behaviour
// reference §4.3): GET /api/v1/version (the SDK's handshake), GET
// /api/v1/repos/{o}/{r}/commits/{sha}/statuses?limit=50&page=1, then POST
// /api/v1/repos/{o}/{r}/statuses/{sha} with
// {"state","target_url":"","description","context"} unless the first
// listed status of the same context (ignoring entries with an empty field)
// has the same state and description. Progressing events set "pending".
//
// What SDK v0.25.1 sends, as the fake in giteatest checks it:
// Authorization: token <token>; no User-Agent of its own, so Go's
// Go-http-client/1.1; a lower-case content-type: application/json header
// on POST and PATCH and also on the bodiless status list GET. The SDK
// asks for the server version once per client, when the client is built,
// and fails for a server older than 1.11.0. Its calls take no context:
// Herald builds a light SDK client per attempt on the Provider's shared
// HTTP client, with SetContext(ctx), so the attempt's deadline bounds
// every call and the calls are Flux's, handshake included, in number and
// order. The handshake is made by Herald (ServerVersion) rather than
// inside NewClient, so that its failure keeps its HTTP status for
// classification; the texts are the SDK's under Flux's "failed creating
// Gitea client: ". The SDK has no retries. NOTIFIER_GITEA_DEBUG is not
// honoured: the SDK's debug mode prints the token to stdout.
package gitea

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	sdk "code.gitea.io/sdk/gitea"
	version "github.com/hashicorp/go-version"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/gitsdk"
)

// Notifier sets commit statuses on one Gitea repository.
type Notifier struct {
	// Now turns a Retry-After date into a delay; New sets time.Now.
	Now func() time.Time

	uid  string
	conn *Conn
}

var (
	_ notify.Notifier             = (*Notifier)(nil)
	_ commitstatus.StatusNotifier = (*Notifier)(nil)
)

// ErrNoToken is Flux's error for a Gitea Provider without a token.
var ErrNoToken = errors.New("gitea token cannot be empty")

// Conn is what both Gitea providers need to reach a repository: its
// address, the token and the Provider's HTTP client.
type Conn struct {
	Repo    commitstatus.GiteaRepo
	token   notify.Secret
	client  *http.Client
	secrets []notify.Secret
}

// NewConn checks cfg as Flux does: a token (cfg.Token, else cfg.Password)
// and an owner/repo address on an http(s) server.
func NewConn(cfg notify.Config) (*Conn, error) {
	token := gitsdk.Token(cfg)
	if token == "" {
		return nil, ErrNoToken
	}
	addr, err := commitstatus.ParseAddress(cfg.Address.Reveal())
	if err != nil {
		return nil, err
	}
	repo, err := addr.Gitea()
	if err != nil {
		return nil, err
	}
	return &Conn{Repo: repo, token: token, client: gitsdk.Client(cfg), secrets: gitsdk.Secrets(cfg)}, nil
}

// minVersion is the oldest server the SDK accepts.
var minVersion = version.Must(version.NewVersion("1.11.0"))

// Client makes the SDK's handshake (GET /api/v1/version) and returns an
// SDK client whose calls are bound to ctx.
func (c *Conn) Client(ctx context.Context, now time.Time) (*sdk.Client, error) {
	client, err := sdk.NewClient(c.Repo.BaseURL,
		sdk.SetContext(ctx), sdk.SetHTTPClient(c.client), sdk.SetToken(c.token.Reveal()), sdk.SetGiteaVersion(""))
	if err != nil {
		return nil, c.Fail("failed creating Gitea client: ", nil, err, now)
	}
	raw, resp, err := client.ServerVersion()
	if err != nil && !success(resp) {
		return nil, c.Fail("failed creating Gitea client: ", resp, err, now)
	}
	// A version that does not parse counts as 1.11.0, as the SDK takes it;
	// Flux then fails with "unknown version", and with an empty one the SDK
	// dereferences a nil version. Herald goes on in both cases.
	if v, err := version.NewVersion(raw); err == nil && v.LessThan(minVersion) {
		return nil, notify.Permanent(fmt.Errorf("failed creating Gitea client: gitea server at %s is older than 1.11.0", c.Repo.BaseURL))
	}
	return client, nil
}

// Fail classifies and masks an SDK call's error under Flux's prefix.
func (c *Conn) Fail(prefix string, resp *sdk.Response, err error, now time.Time) error {
	var r *http.Response
	if resp != nil {
		r = resp.Response
	}
	return gitsdk.Fail(prefix, r, err, now, c.secrets)
}

// New builds a gitea commit-status notifier. Requests go through
// cfg.HTTPClient (the Provider's proxy and CA, as in Flux) and follow
// redirects on the same host only.
func New(cfg notify.Config) (*Notifier, error) {
	conn, err := NewConn(cfg)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: time.Now, uid: cfg.UID, conn: conn}, nil
}

// Notify sets the status with the default id, built from the Provider's
// UID and the involved object.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return n.NotifyCommitStatus(ctx, ev, commitstatus.DefaultID(n.uid, ev))
}

// NotifyCommitStatus sets the status statusID on the event's commit unless
// the first status of that context already has its state and description.
func (n *Notifier) NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error) {
	s, _, err := commitstatus.For(commitstatus.Gitea, ev, statusID)
	if err != nil {
		return false, err
	}
	client, err := n.conn.Client(ctx, n.Now())
	if err != nil {
		return notify.Outcome(err)
	}
	repo := n.conn.Repo
	statuses, resp, err := client.ListStatuses(repo.Owner, repo.Repo, s.Commit,
		sdk.ListStatusesOption{ListOptions: sdk.ListOptions{PageSize: 50}})
	if err != nil && !success(resp) {
		return notify.Outcome(n.conn.Fail("could not list commit statuses: ", resp, err, n.Now()))
	}
	if duplicate(statuses, s) {
		return false, nil
	}
	_, resp, err = client.CreateStatus(repo.Owner, repo.Repo, s.Commit, sdk.CreateStatusOption{
		State:       sdk.StatusState(s.State),
		TargetURL:   "",
		Description: s.Description,
		Context:     s.ID,
	})
	if err != nil && !success(resp) {
		return notify.Outcome(n.conn.Fail("", resp, err, n.Now()))
	}
	return false, nil
}

// duplicate is Flux's duplicateGiteaStatus.
func duplicate(statuses []*sdk.Status, s commitstatus.Status) bool {
	for _, st := range statuses {
		if st == nil || st.Context == "" || st.State == "" || st.Description == "" {
			continue
		}
		if st.Context == s.ID {
			return string(st.State) == s.State && st.Description == s.Description
		}
	}
	return false
}

// success reports a 2xx answer, which the SDK still calls an error when it
// cannot decode the body.
func success(resp *sdk.Response) bool {
	return resp != nil && resp.Response != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299
}
