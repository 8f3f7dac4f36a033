package githubapp

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

// Conn is a go-github client for one Provider's repository, authenticated
// with the Provider's token or its GitHub App: what every GitHub provider
// (github, githubpullrequestcomment, githubdispatch) builds the same way.
type Conn struct {
	Client *github.Client
	Repo   commitstatus.GitHubRepo
	// App is the Provider's GitHub App, nil with a token.
	App *Source
	// Secrets are what errors must not show; see maskList.
	Secrets []notify.Secret
	// Now is the clock of the notifier and of its App tokens.
	Now func() time.Time
}

// Option adjusts Connect, and so the New of every GitHub provider.
type Option func(*options)

type options struct {
	cache *Cache
	now   func() time.Time
}

// WithAppCache keeps GitHub App installation tokens in c instead of Shared.
func WithAppCache(c *Cache) Option { return func(o *options) { o.cache = c } }

// WithClock sets the clock of the notifier and of its App tokens.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Connect reads cfg as Flux reads a GitHub Provider: cfg.Address is the
// repository URL (https, ssh or SCP form); github.com goes to
// api.github.com, any other host to its Enterprise API at <host>/api/v3/.
// The token is cfg.Token, or cfg.Password when the token is empty; without
// either, the secret must hold GitHub App keys, whose installation tokens
// are shared through Shared or WithAppCache's cache. Requests go through cfg.HTTPClient, so the
// Provider's proxy and CA apply to every GitHub host (Flux sends API calls
// without the proxy and uses the CA for Enterprise hosts only), and follow
// redirects on the API host only.
func Connect(cfg notify.Config, opts ...Option) (*Conn, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	token := cfg.Token
	if token == "" {
		token = cfg.Password
	}
	var app *Source
	if token == "" {
		appCfg, ok := FromSecret(cfg.SecretData)
		if !ok {
			return nil, errors.New("github token or github app details must be specified")
		}
		var err error
		if app, err = New(appCfg, cfg.HTTPClient, o.cache); err != nil {
			return nil, err
		}
		app.Now = o.now
	}
	addr, err := commitstatus.ParseAddress(cfg.Address.Reveal())
	if err != nil {
		return nil, err
	}
	repo, err := addr.GitHub()
	if err != nil {
		return nil, err
	}
	hc := Client(cfg.HTTPClient)
	ghOpts := []github.ClientOptionsFunc{github.WithHTTPClient(hc)}
	if app == nil {
		ghOpts = append(ghOpts, github.WithAuthToken(token.Reveal()))
	} else {
		origin, _ := url.Parse(repo.APIBase)
		hc.Transport = &appTransport{base: hc.Transport, source: app, origin: origin}
	}
	if repo.Enterprise {
		// APIBase already ends in /api/v3/ where Flux's go-github v64 put
		// it, so v93 takes it as it is.
		ghOpts = append(ghOpts, github.WithEnterpriseURLs(repo.APIBase, repo.APIBase))
	}
	client, err := github.NewClient(ghOpts...)
	if err != nil {
		// Its text would quote the URL, which ParseAddress has vetted.
		return nil, errors.New("could not create enterprise GitHub client")
	}
	return &Conn{Client: client, Repo: repo, App: app, Secrets: maskList(cfg), Now: o.now}, nil
}

// maskList is what errors must not show: every secret of cfg but the
// repository URL, whose owner/repo path go-github's errors name and which
// tells the user which repository failed; only the address's userinfo is
// secret there.
func maskList(cfg notify.Config) []notify.Secret {
	c := cfg
	c.Address = ""
	// The App's id, installation and API URL identify it and help to read
	// an error; its key and tokens stay masked.
	c.SecretData = maps.Clone(cfg.SecretData)
	for _, k := range []string{KeyAppID, KeyAppInstallationID, KeyAppInstallationOwner, KeyAppBaseURL} {
		delete(c.SecretData, k)
	}
	secrets := c.SecretValues()
	if u, err := url.Parse(cfg.SecretData[KeyAppBaseURL].Reveal()); err == nil && u.User != nil {
		secrets = append(secrets, notify.Secret(u.User.String()))
	}
	if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.User != nil {
		secrets = append(secrets, notify.Secret(u.User.String()))
		if p, ok := u.User.Password(); ok {
			secrets = append(secrets, notify.Secret(p))
		}
	}
	return secrets
}

// appTransport sets the installation token on requests to the API origin,
// as go-github's WithAuthToken does for a fixed token.
type appTransport struct {
	base   http.RoundTripper
	source *Source
	origin *url.URL
}

func (t *appTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	if req.URL.Scheme != t.origin.Scheme || req.URL.Host != t.origin.Host {
		return base.RoundTrip(req)
	}
	token, err := t.source.Token(req.Context())
	if err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	return base.RoundTrip(req)
}
