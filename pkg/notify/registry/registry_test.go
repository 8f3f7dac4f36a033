package registry_test

import (
	"context"
	"errors"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/registry"
	"github.com/heraldhq/herald/pkg/notify/telegram"
)

// Every type Herald delivers to is a type Flux's Provider API accepts.
func TestTypesAreFluxTypes(t *testing.T) {
	types := registry.Types()
	if !slices.IsSorted(types) || len(types) < 3 {
		t.Fatalf("Types() = %v", types)
	}
	for _, typ := range types {
		if !slices.Contains(api.FluxProviderTypes, typ) {
			t.Errorf("%s is not a Flux provider type", typ)
		}
	}
}

// Herald delivers to every provider type Flux has, so validation has no
// "not delivered" warning to give.
func TestEveryFluxTypeIsRegistered(t *testing.T) {
	for _, typ := range api.FluxProviderTypes {
		if !slices.Contains(registry.Types(), typ) {
			t.Errorf("Flux provider type %s is not registered", typ)
		}
	}
}

func TestUnknownTypeListsTheSupportedOnes(t *testing.T) {
	_, err := registry.New(notify.Config{Type: "email"})
	want := "provider type not supported by Herald yet: email (supported: " + strings.Join(registry.Types(), ", ") + ")"
	if err == nil || err.Error() != want || !errors.Is(err, notify.ErrUnsupportedType) {
		t.Fatalf("err = %v, want %q wrapping notify.ErrUnsupportedType", err, want)
	}
}

// leakConfig adds what each type needs to build beyond an address and a
// token. Every registered type must be listed, so that no provider escapes
// the shared leak test below.
var leakConfig = map[string]func(*notify.Config){
	"alertmanager": nil,
	"datadog":      nil,
	"grafana":      nil,
	"lark":         nil,
	"mastodon":     nil,
	"matrix":       func(cfg *notify.Config) { cfg.Channel = "!room:example.org" },
	"opsgenie":     nil,
	"otel":         nil,
	"pagerduty":    func(cfg *notify.Config) { cfg.Channel = "routing-key" },
	// A Sentry address is a DSN: a user and a project ID.
	"sentry": func(cfg *notify.Config) {
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			if u.User == nil {
				u.User = url.User("public")
			}
			u.Path, u.RawQuery = strings.TrimSuffix(u.Path, "/")+"/1", ""
			cfg.Address = notify.Secret(u.String())
		}
	},
	"discord":      nil,
	"generic":      nil,
	"generic-hmac": nil,
	// go-github puts owner/repo in its errors, which is not secret: keep
	// the planted secrets everywhere else in the address.
	"githubdispatch": func(cfg *notify.Config) {
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path = "/flux/podinfo"
			cfg.Address = notify.Secret(u.String())
		}
	},
	// The same for the Git hosts' APIs, which the shared test reaches with
	// its event's commit, and, for the comment providers, a change request.
	"github": repositoryPath,
	"gitea":  repositoryPath,
	"bitbucketserver": func(cfg *notify.Config) {
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path = "/scm/FLUX/podinfo.git"
			cfg.Address = notify.Secret(u.String())
		}
	},
	"gitlab":                    repositoryPath,
	"giteapullrequestcomment":   repositoryPath,
	"githubpullrequestcomment":  repositoryPath,
	"gitlabmergerequestcomment": repositoryPath,
	"googlechat":                nil,
	"incident.io":               nil,
	"msteams":                   nil,
	"rocket":                    nil,
	"slack":                     nil,
	"telegram":                  func(cfg *notify.Config) { cfg.Channel = "-1001234567890" },
	"webex":                     func(cfg *notify.Config) { cfg.Channel = "room" },
	"zoom":                      nil,
	"zulip":                     func(cfg *notify.Config) { cfg.Channel = "general/flux" },
}

// onChangeRequest sends every event on change request 42, which a
// comment provider needs before it makes any request.
type onChangeRequest struct{ notify.Notifier }

func (n onChangeRequest) Notify(ctx context.Context, ev event.Event) (bool, error) {
	ev.Metadata = maps.Clone(ev.Metadata)
	if ev.Metadata == nil {
		ev.Metadata = map[string]string{}
	}
	ev.Metadata[event.MetaChangeRequest] = "42"
	return n.Notifier.Notify(ctx, ev)
}

// repositoryPath points the address at a repository, keeping the planted
// secrets in its user, query and fragment.
func repositoryPath(cfg *notify.Config) {
	if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
		u.Path = "/flux/podinfo"
		cfg.Address = notify.Secret(u.String())
	}
}

// notHTTP are the providers the shared check cannot drive, because they do
// not post to an HTTP endpoint; each runs notifytest.AssertNoSecretLeak or
// its own leak test against its real peer in its package.
var notHTTP = map[string]string{
	"bitbucket":     "posts to api.bitbucket.org whatever the address: pkg/notify/bitbucket runs the leak test against its fake",
	"azuredevops":   "the SDK discovers its API locations first: pkg/notify/azuredevops runs the leak test against its fake",
	"nats":          "NATS protocol: pkg/notify/nats tests it against nats-server",
	"azureeventhub": "AMQP: pkg/notify/azureeventhub tests its errors",
	"googlepubsub":  "service-account credentials are parsed in New: pkg/notify/googlepubsub plants them",
}

// One shared test runs every registered provider, built through the
// registry as in production, against endpoints that fail in every way, and
// asserts that no secret value reaches an error or a log line.
func TestNoProviderLeaksASecret(t *testing.T) {
	for _, typ := range registry.Types() {
		if _, skip := notHTTP[typ]; skip {
			continue
		}
		configure, ok := leakConfig[typ]
		if !ok {
			t.Errorf("%s: add it to leakConfig, so the leak test covers it", typ)
			continue
		}
		t.Run(typ, func(t *testing.T) {
			factory := func(cfg notify.Config) (notify.Notifier, error) {
				cfg.Type = typ
				if configure != nil {
					configure(&cfg)
				}
				n, err := registry.New(cfg)
				if tn, ok := n.(*telegram.Notifier); ok {
					// Telegram's host is fixed: send to the check's servers.
					tn.APIURL = notifytest.ClosedAddress(t)
					if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
						tn.APIURL = u.Scheme + "://" + u.Host
					}
				}
				if err == nil && api.ProviderTypeOf(typ).Class == api.ChangeRequestComment {
					n = onChangeRequest{n}
				}
				return n, err
			}
			notifytest.AssertNoSecretLeak(t, factory)
		})
	}
}
