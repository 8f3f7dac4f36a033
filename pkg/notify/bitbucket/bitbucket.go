// Package bitbucket sets build statuses on Bitbucket Cloud, as Flux's
// internal/notifier/bitbucket.go does through go-bitbucket (behaviour
// reference §4.3), with a small client over the shared poster: it reads the
// status with the commit's key
// (GET {api}/repositories/{o}/{r}/commit/{sha}/statuses/build/{key}, where a
// 404 means there is none) and creates it
// (POST {api}/repositories/{o}/{r}/commit/{sha}/statuses/build) only when its
// state or description differ.
package bitbucket

import (
	"context"
	"errors"
	"net/url"
	"os"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/internal/statushttp"
)

// DefaultAPIBase is Bitbucket Cloud's REST API.
const DefaultAPIBase = "https://api.bitbucket.org/2.0"

// EnvAPIBase overrides DefaultAPIBase, as go-bitbucket reads it in Flux.
const EnvAPIBase = "BITBUCKET_API_BASE_URL"

// statusURL is the url of every status Flux sets: go-bitbucket requires one.
const statusURL = "https://bitbucket.org"

// Notifier sets build statuses on one repository.
type Notifier struct {
	uid         string
	repoURL     string // {api}/repositories/{o}/{r}
	user        string
	password    notify.Secret
	ep          notify.Endpoint
	basicHeader bool
}

var (
	_ notify.Notifier             = (*Notifier)(nil)
	_ commitstatus.StatusNotifier = (*Notifier)(nil)
)

// Option adjusts New.
type Option func(*options)

type options struct {
	base   string
	getenv func(string) string
}

// WithAPIBase sends API calls to base instead of DefaultAPIBase or
// $BITBUCKET_API_BASE_URL, for tests.
func WithAPIBase(base string) Option { return func(o *options) { o.base = base } }

// WithGetenv reads the environment through getenv instead of os.Getenv.
func WithGetenv(getenv func(string) string) Option { return func(o *options) { o.getenv = getenv } }

// status is the body Flux posts (go-bitbucket's CommitStatusOptions, in its
// field order) and what the GET answers with.
type status struct {
	Key         string `json:"key"`
	URL         string `json:"url"`
	State       string `json:"state"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// New builds a bitbucket commit-status notifier. cfg.Address is the
// repository URL (https, ssh or SCP form) whose path must be
// <workspace>/<repo>; its host is ignored, as in Flux: calls go to
// DefaultAPIBase, or to $BITBUCKET_API_BASE_URL when set. cfg.Token must be
// <user>:<app password>, used for basic auth. Requests go through
// cfg.HTTPClient, with the Provider's proxy and CA, and follow redirects on
// the API host only.
func New(cfg notify.Config, opts ...Option) (*Notifier, error) {
	o := options{getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.Token == "" {
		return nil, errors.New("bitbucket token cannot be empty")
	}
	addr, err := commitstatus.ParseAddress(cfg.Address.Reveal())
	if err != nil {
		return nil, err
	}
	comp := strings.Split(cfg.Token.Reveal(), ":")
	if len(comp) != 2 {
		return nil, errors.New("invalid token format, expected to be <user>:<password>")
	}
	owner, repo, err := addr.OwnerRepo()
	if err != nil {
		return nil, err
	}
	base := o.base
	if base == "" {
		base = o.getenv(EnvAPIBase)
	}
	if base == "" {
		base = DefaultAPIBase
	}
	if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("invalid Bitbucket API base URL: it must be an http(s) URL")
	}
	return &Notifier{
		uid:      cfg.UID,
		repoURL:  base + "/repositories/" + url.PathEscape(owner) + "/" + url.PathEscape(repo),
		user:     comp[0],
		password: notify.Secret(comp[1]),
		// go-bitbucket sends basic auth only when both parts are set.
		basicHeader: comp[0] != "" && comp[1] != "",
		ep:          notify.Endpoint{Client: statushttp.Client(cfg.Client()), Secrets: cfg.SecretValues()},
	}, nil
}

// Notify sets the status with the default id, built from the Provider's
// UID and the involved object.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return n.NotifyCommitStatus(ctx, ev, commitstatus.DefaultID(n.uid, ev))
}

// NotifyCommitStatus sets the build status keyed by the SHA-1 of statusID
// on the event's commit, unless that key already has the same state and
// description. Progressing events are skipped, as in Flux.
func (n *Notifier) NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error) {
	s, skip, err := commitstatus.For(commitstatus.Bitbucket, ev, statusID)
	if skip || err != nil {
		return false, err
	}
	want := status{Key: commitstatus.Key(s.ID), URL: statusURL, State: s.State, Name: commitstatus.Name(ev), Description: s.Description}
	builds := n.repoURL + "/commit/" + s.Commit + "/statuses/build"
	var auth []notify.PostOption
	if n.basicHeader {
		auth = append(auth, notify.WithBasicAuth(n.user, n.password))
	}
	var got status
	found, err := statushttp.Get(ctx, n.ep.At(builds+"/"+want.Key), &got, auth...)
	if err != nil {
		return notify.Outcome(statushttp.Wrap("could not get commit status: ", err))
	}
	if found && got.State == want.State && got.Description == want.Description {
		return false, nil
	}
	return notify.Outcome(statushttp.Wrap("could not create commit status: ", n.ep.At(builds).PostJSON(ctx, want, auth...)))
}
