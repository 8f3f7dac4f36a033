// Package githubdispatch triggers a repository_dispatch event in a GitHub
// repository for every Flux event, so that a workflow can react to it
// (Flux's internal/notifier/github_dispatch.go;
// https://docs.github.com/rest/repos/repos#create-a-repository-dispatch-event).
package githubdispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// Notifier creates repository dispatch events through go-github.
type Notifier struct {
	// Now is the clock that turns rate-limit resets and Retry-After dates
	// into delays. New sets time.Now.
	Now func() time.Time

	repo    repository
	client  *github.Client
	secrets []notify.Secret
}

// New builds a githubdispatch notifier. cfg.Address is the repository URL
// (https, ssh or SCP form); github.com goes to api.github.com, any other
// host to its Enterprise API at <host>/api/v3/. The token is cfg.Token, or
// cfg.Password when the token is empty, as Flux reads GitHub secrets.
// Requests go through cfg.HTTPClient, so the Provider's proxy and CA apply
// to every GitHub host; Flux sends API calls without the proxy and uses the
// CA for Enterprise hosts only.
func New(cfg notify.Config) (*Notifier, error) {
	token := cfg.Token
	if token == "" {
		token = cfg.Password
	}
	if token == "" {
		if _, ok := cfg.SecretData["githubAppID"]; ok {
			return nil, errors.New("githubdispatch: GitHub App authentication is not supported yet; use a token")
		}
		return nil, errors.New("github token or github app details must be specified")
	}
	repo, err := parseAddress(cfg.Address.Reveal())
	if err != nil {
		return nil, err
	}

	base := cfg.HTTPClient
	if base == nil {
		base = notify.DefaultClient()
	}
	// A copy, so the redirect rule stays with this provider. go-github
	// wraps the transport to set the token on every request it carries,
	// redirects included, where Go would drop Authorization on a redirect
	// to another host.
	hc := *base
	hc.CheckRedirect = sameHostRedirects
	opts := []github.ClientOptionsFunc{github.WithHTTPClient(&hc), github.WithAuthToken(token.Reveal())}
	if repo.apiBase != "" {
		opts = append(opts, github.WithEnterpriseURLs(repo.apiBase, repo.apiBase))
	}
	client, err := github.NewClient(opts...)
	if err != nil {
		// Its text would quote the URL; parseAddress has already vetted it.
		return nil, errors.New("could not create enterprise GitHub client")
	}
	return &Notifier{Now: time.Now, repo: repo, client: client, secrets: maskList(cfg)}, nil
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
	payload := json.RawMessage(data)
	_, resp, err := n.client.Repositories.Dispatch(ctx, n.repo.owner, n.repo.name, github.DispatchRequestOptions{
		EventType:     EventType(ev),
		ClientPayload: &payload,
	})
	if resp != nil && resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// GitHub has the dispatch: the API answers 204, and a 202 (which
		// go-github calls an error) or a body it cannot decode changes
		// nothing. Retrying would run the workflow twice.
		return false, nil
	}
	return notify.Outcome(n.classify(err))
}

// errCrossHostRedirect stops a redirect that would carry the token away.
var errCrossHostRedirect = errors.New("refusing to follow a redirect to another host")

// sameHostRedirects follows redirects on the API host only, at most ten as
// Go's default does (GitHub answers 307 for a renamed repository).
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	if req.URL.Host != via[0].URL.Host {
		return errCrossHostRedirect
	}
	return nil
}
