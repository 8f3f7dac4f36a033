// Package githubapp authenticates as a GitHub App installation, as Flux's
// fluxcd/pkg/auth/githubapp does: it signs an App JWT (RS256), finds the
// installation by owner when only the owner is given, and exchanges the JWT
// for an installation token, which it caches until shortly before it
// expires. The cache is shared, so every Provider of the same App
// installation reuses one token. Providers that talk to GitHub (github,
// githubdispatch, githubpullrequestcomment) use it when the secret holds App
// keys instead of a token.
package githubapp

import (
	"context"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v93/github"

	"github.com/heraldhq/herald/pkg/notify"
)

// The secret keys of GitHub App authentication.
const (
	KeyAppID                = "githubAppID"
	KeyAppInstallationOwner = "githubAppInstallationOwner"
	KeyAppInstallationID    = "githubAppInstallationID"
	KeyAppPrivateKey        = "githubAppPrivateKey"
	KeyAppBaseURL           = "githubAppBaseURL"
)

// Config identifies an App installation and holds the App's key.
type Config struct {
	AppID             int64
	InstallationID    int64
	InstallationOwner string
	// PrivateKey is the App's PEM private key (PKCS#1 or PKCS#8).
	PrivateKey notify.Secret
	// BaseURL is the API base for the token calls; empty means
	// https://api.github.com/. It is used exactly as given (a trailing
	// slash is added), as Flux does: https://ghe.example.com/api/v3.
	BaseURL string
}

// FromSecret reads the App keys of a Provider's secret. ok is false when
// the secret has no githubAppID, which Flux takes as "no App". Like Flux,
// an ID that is not a number reads as 0, which New then refuses.
func FromSecret(data map[string]notify.Secret) (cfg Config, ok bool) {
	id, ok := data[KeyAppID]
	if !ok {
		return Config{}, false
	}
	cfg.AppID, _ = strconv.ParseInt(id.Reveal(), 10, 64)
	if v, ok := data[KeyAppInstallationID]; ok {
		cfg.InstallationID, _ = strconv.ParseInt(v.Reveal(), 10, 64)
	}
	cfg.InstallationOwner = data[KeyAppInstallationOwner].Reveal()
	cfg.PrivateKey = data[KeyAppPrivateKey]
	cfg.BaseURL = data[KeyAppBaseURL].Reveal()
	return cfg, true
}

// Source hands out installation tokens for one App installation.
type Source struct {
	// Now is the clock for the JWT and the token expiry. New sets time.Now.
	Now func() time.Time

	cfg    Config
	key    *rsa.PrivateKey
	base   string
	client *http.Client
	cache  *Cache
	id     string // the cache key
	// masks are what errors must not show besides the JWT: the key, and
	// the userinfo of the API base, which go-github's errors quote with
	// the request's URL.
	masks []notify.Secret
}

// New checks cfg with Flux's texts and parses the key. Token requests go
// through a copy of client (the Provider's proxy and TLS settings apply, as
// in Flux) that follows no redirect to another host; a nil client is
// notify.DefaultClient(). cache is where tokens are kept, Shared when nil.
func New(cfg Config, client *http.Client, cache *Cache) (*Source, error) {
	switch {
	case cfg.AppID == 0:
		return nil, errors.New("app ID must be provided to use github app authentication")
	case cfg.InstallationOwner == "" && cfg.InstallationID == 0:
		return nil, errors.New("app installation owner or ID must be provided to use github app authentication")
	case cfg.InstallationOwner != "" && cfg.InstallationID != 0:
		return nil, errors.New("only one of app installation owner or ID must be provided to use github app authentication")
	case cfg.PrivateKey == "":
		return nil, errors.New("private key must be provided to use github app authentication")
	}
	key, err := parseKey([]byte(cfg.PrivateKey.Reveal()))
	if err != nil {
		return nil, err
	}
	base := "https://api.github.com/"
	masks := []notify.Secret{cfg.PrivateKey}
	if cfg.BaseURL != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.BaseURL, "/") + "/")
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("invalid API URL: githubAppBaseURL must be an http(s) URL")
		}
		u.RawPath = ""
		base = u.String()
		if u.User != nil {
			masks = append(masks, notify.Secret(u.User.String()))
			if p, ok := u.User.Password(); ok {
				masks = append(masks, notify.Secret(p))
			}
		}
	}
	client = Client(client)
	if cache == nil {
		cache = Shared
	}
	return &Source{Now: time.Now, cfg: cfg, key: key, base: base, client: client, cache: cache, id: cacheKey(cfg, base), masks: masks}, nil
}

// parseKey reads a PEM RSA private key as golang-jwt's
// ParseRSAPrivateKeyFromPEM does, which Flux uses, with its error text. The
// key is never quoted.
func parseKey(data []byte) (*rsa.PrivateKey, error) {
	const prefix = "could not parse private key: "
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New(prefix + "invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New(prefix + "invalid key: Key must be a PEM encoded PKCS1 or PKCS8 key")
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, errors.New(prefix + "key is not a valid RSA private key")
	}
	return rk, nil
}

// cacheKey identifies an installation of an App with a given key, as
// Flux's buildCacheKey does, hashed so that no secret is kept in clear.
func cacheKey(cfg Config, base string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s=%d,%s=%s,%s=%d,%s=%s,%s=", KeyAppID, cfg.AppID, KeyAppInstallationOwner, cfg.InstallationOwner,
		KeyAppInstallationID, cfg.InstallationID, KeyAppBaseURL, base, KeyAppPrivateKey)
	h.Write([]byte(cfg.PrivateKey.Reveal()))
	return hex.EncodeToString(h.Sum(nil))
}

// Token returns an installation token from the cache, or a new one when
// the cached one expires within the cache's margin. Its errors are
// classified *notify.Error values and show neither the JWT, nor the key,
// nor a password in the API base URL.
func (s *Source) Token(ctx context.Context) (notify.Secret, error) {
	e := s.cache.entry(s.id)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := s.Now()
	if e.token != "" && now.Before(e.expires.Add(-s.cache.Margin)) {
		return e.token, nil
	}
	token, expires, id, err := s.fetch(ctx, now, e.installationID)
	if err != nil {
		return "", err
	}
	e.token, e.expires, e.installationID = token, expires, id
	return token, nil
}

// fetch signs a JWT and asks for an installation token, finding the
// installation by owner first when needed (and not yet known).
func (s *Source) fetch(ctx context.Context, now time.Time, installationID int64) (notify.Secret, time.Time, int64, error) {
	jwt, err := s.jwt(now)
	if err != nil {
		return "", time.Time{}, 0, notify.Permanent(err)
	}
	fail := func(err error) (notify.Secret, time.Time, int64, error) {
		e := Classify(err, now)
		e.Err = notify.MaskError(e.Err, e.Retryable, append([]notify.Secret{notify.Secret(jwt)}, s.masks...)...).Err
		return "", time.Time{}, 0, e
	}
	client, err := github.NewClient(github.WithHTTPClient(s.client), github.WithAuthToken(jwt), github.WithURLs(&s.base, &s.base))
	if err != nil {
		return fail(errors.New("invalid API URL"))
	}
	if installationID == 0 {
		installationID = s.cfg.InstallationID
	}
	if installationID == 0 {
		if installationID, err = findInstallation(ctx, client, s.cfg.InstallationOwner); err != nil {
			return fail(err)
		}
	}
	t, _, err := client.Apps.CreateInstallationToken(ctx, installationID, nil)
	if err != nil {
		return fail(err)
	}
	if t.GetToken() == "" {
		return fail(errors.New("GitHub answered without an installation token"))
	}
	return notify.Secret(t.GetToken()), t.GetExpiresAt().Time, installationID, nil
}

// findInstallation looks the owner up as an organization, then as a user,
// as Flux does. The error of the user lookup decides the classification.
func findInstallation(ctx context.Context, client *github.Client, owner string) (int64, error) {
	inst, _, orgErr := client.Apps.GetOrganizationInstallation(ctx, owner)
	if orgErr == nil {
		return inst.GetID(), nil
	}
	inst, _, userErr := client.Apps.GetUserInstallation(ctx, owner)
	if userErr == nil {
		return inst.GetID(), nil
	}
	return 0, &joined{
		msg:   fmt.Sprintf("failed to find organization installation: %v\nfailed to find user installation: %v", orgErr, userErr),
		cause: userErr,
	}
}

// joined is Flux's errors.Join text, unwrapping to the last error only so
// that it is the one classified.
type joined struct {
	msg   string
	cause error
}

func (e *joined) Error() string { return e.msg }
func (e *joined) Unwrap() error { return e.cause }

// Cache keeps installation tokens per App installation and key.
type Cache struct {
	// Margin is how long before its expiry a token is replaced.
	Margin time.Duration

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	mu             sync.Mutex
	token          notify.Secret
	expires        time.Time
	installationID int64
}

// DefaultMargin replaces a token five minutes before it expires; GitHub's
// installation tokens live one hour.
const DefaultMargin = 5 * time.Minute

// NewCache returns an empty cache with DefaultMargin.
func NewCache() *Cache {
	return &Cache{Margin: DefaultMargin, entries: map[string]*entry{}}
}

// Shared is the cache of every Source built without one: one per process,
// as there is one per Lambda execution environment.
var Shared = NewCache()

func (c *Cache) entry(key string) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	if !ok {
		e = &entry{}
		c.entries[key] = e
	}
	return e
}
