// Package githubdispatch triggers a repository_dispatch event in a GitHub
// repository for every Flux event, so that a workflow can react to it
// (Flux's internal/notifier/github_dispatch.go;
// https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event).
package githubdispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/githubapp"
)

// errorPrefix is Flux's text for every failed dispatch.
const errorPrefix = "Could not send github repository dispatch webhook: "

// Notifier creates repository dispatch events through go-github.
type Notifier struct {
	// Now is the clock that turns rate-limit resets and Retry-After dates
	// into delays. New sets time.Now, or the clock of WithClock.
	Now func() time.Time

	repo    commitstatus.GitHubRepo
	client  *github.Client
	app     *githubapp.Source
	secrets []notify.Secret
}

var _ notify.Notifier = (*Notifier)(nil)

// New builds a githubdispatch notifier. cfg.Address is the repository URL
// (https, ssh or SCP form); github.com goes to api.github.com, any other
// host to its Enterprise API at <host>/api/v3/. The token is cfg.Token, or
// cfg.Password when the token is empty, as Flux reads GitHub secrets;
// without either, the secret must hold GitHub App keys (see package
// githubapp), whose installation tokens are shared with every GitHub
// provider of the same App. Requests go through cfg.HTTPClient, so the
// Provider's proxy and CA apply to every GitHub host; Flux sends API calls
// without the proxy and uses the CA for Enterprise hosts only.
func New(cfg notify.Config, opts ...githubapp.Option) (*Notifier, error) {
	conn, err := githubapp.Connect(cfg, opts...)
	if err != nil {
		return nil, err
	}
	return &Notifier{Now: conn.Now, repo: conn.Repo, client: conn.Client, app: conn.App, secrets: conn.Secrets}, nil
}

// EventType is Flux's event_type: Kind/name.namespace, the Kind's case kept.
func EventType(ev event.Event) string {
	o := ev.InvolvedObject
	return o.Kind + "/" + o.Name + "." + o.Namespace
}

// Notify dispatches ev with the whole event as client_payload. go-github
// writes the body without HTML escaping and with a trailing newline, as for
// Flux; the payload inside is json.Marshal's, escaped, as Flux's is.
// Commit status updates are skipped, as in Flux.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	if ev.Metadata[event.MetaCommitStatus] == "update" {
		return false, nil
	}
	data, err := json.Marshal(ev)
	if err != nil {
		//lint:ignore ST1005 Flux's exact text.
		return false, notify.Permanent(fmt.Errorf("Failed to marshal object into json: %w", err))
	}
	var token notify.Secret
	if n.app != nil {
		// The transport asks again for the call; this surfaces the App's
		// errors with their own classification, and the token for masking.
		if token, err = n.app.Token(ctx); err != nil {
			return notify.Outcome(n.fail(fmt.Errorf("could not get a GitHub App installation token: %w", err), ""))
		}
	}
	payload := json.RawMessage(data)
	_, resp, err := n.client.Repositories.Dispatch(ctx, n.repo.Owner, n.repo.Repo, github.DispatchRequestOptions{
		EventType:     EventType(ev),
		ClientPayload: &payload,
	})
	if resp != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// GitHub has the dispatch: the API answers 204, and a 202 (which
		// go-github calls an error) or a body it cannot decode changes
		// nothing. Retrying would run the workflow twice.
		return false, nil
	}
	return notify.Outcome(n.fail(err, token))
}

// fail classifies err with the GitHub rules every GitHub provider shares
// (githubapp.Classify: rate limits wait for their reset or Retry-After) and
// masks the Provider's secrets and the App token out of Flux's text. The
// result unwraps only to a context error, never to go-github's, whose
// fields hold the request.
func (n *Notifier) fail(err error, token notify.Secret) error {
	e := githubapp.Classify(err, n.Now())
	e.Err = notify.MaskError(fmt.Errorf("%s%w", errorPrefix, err), e.Retryable, append(n.secrets, token)...).Err
	return e
}
