// Package registry maps each provider type to the constructor of its
// notifier: one line per type, so an unknown type fails at load time.
package registry

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/alertmanager"
	"github.com/heraldhq/herald/pkg/notify/azuredevops"
	"github.com/heraldhq/herald/pkg/notify/azureeventhub"
	"github.com/heraldhq/herald/pkg/notify/bitbucket"
	"github.com/heraldhq/herald/pkg/notify/bitbucketserver"
	"github.com/heraldhq/herald/pkg/notify/datadog"
	"github.com/heraldhq/herald/pkg/notify/discord"
	"github.com/heraldhq/herald/pkg/notify/generic"
	"github.com/heraldhq/herald/pkg/notify/gitea"
	"github.com/heraldhq/herald/pkg/notify/giteacomment"
	"github.com/heraldhq/herald/pkg/notify/github"
	"github.com/heraldhq/herald/pkg/notify/githubcomment"
	"github.com/heraldhq/herald/pkg/notify/githubdispatch"
	"github.com/heraldhq/herald/pkg/notify/gitlab"
	"github.com/heraldhq/herald/pkg/notify/gitlabcomment"
	"github.com/heraldhq/herald/pkg/notify/googlechat"
	"github.com/heraldhq/herald/pkg/notify/googlepubsub"
	"github.com/heraldhq/herald/pkg/notify/grafana"
	"github.com/heraldhq/herald/pkg/notify/incidentio"
	"github.com/heraldhq/herald/pkg/notify/lark"
	"github.com/heraldhq/herald/pkg/notify/mastodon"
	"github.com/heraldhq/herald/pkg/notify/matrix"
	"github.com/heraldhq/herald/pkg/notify/msteams"
	"github.com/heraldhq/herald/pkg/notify/nats"
	"github.com/heraldhq/herald/pkg/notify/opsgenie"
	"github.com/heraldhq/herald/pkg/notify/otel"
	"github.com/heraldhq/herald/pkg/notify/pagerduty"
	"github.com/heraldhq/herald/pkg/notify/rocket"
	"github.com/heraldhq/herald/pkg/notify/sentry"
	"github.com/heraldhq/herald/pkg/notify/slack"
	"github.com/heraldhq/herald/pkg/notify/telegram"
	"github.com/heraldhq/herald/pkg/notify/webex"
	"github.com/heraldhq/herald/pkg/notify/zoom"
	"github.com/heraldhq/herald/pkg/notify/zulip"
)

var factories = map[string]notify.Factory{
	"alertmanager":              notify.FactoryOf(alertmanager.New),
	"azureeventhub":             notify.FactoryOf(azureeventhub.New),
	"datadog":                   notify.FactoryOf(datadog.New),
	"discord":                   notify.FactoryOf(discord.New),
	"generic":                   notify.FactoryOf(generic.New),
	"generic-hmac":              notify.FactoryOf(generic.NewHMAC),
	"github":                    notify.FactoryOf(func(cfg notify.Config) (*github.Notifier, error) { return github.New(cfg) }),
	"githubdispatch":            notify.FactoryOf(func(cfg notify.Config) (*githubdispatch.Notifier, error) { return githubdispatch.New(cfg) }),
	"githubpullrequestcomment":  notify.FactoryOf(func(cfg notify.Config) (*githubcomment.Notifier, error) { return githubcomment.New(cfg) }),
	"bitbucket":                 notify.FactoryOf(func(cfg notify.Config) (*bitbucket.Notifier, error) { return bitbucket.New(cfg) }),
	"bitbucketserver":           notify.FactoryOf(bitbucketserver.New),
	"azuredevops":               notify.FactoryOf(azuredevops.New),
	"gitea":                     notify.FactoryOf(gitea.New),
	"giteapullrequestcomment":   notify.FactoryOf(giteacomment.New),
	"gitlab":                    notify.FactoryOf(gitlab.New),
	"gitlabmergerequestcomment": notify.FactoryOf(gitlabcomment.New),
	"googlechat":                notify.FactoryOf(googlechat.New),
	"googlepubsub":              notify.FactoryOf(googlepubsub.New),
	"grafana":                   notify.FactoryOf(grafana.New),
	"incident.io":               notify.FactoryOf(incidentio.New),
	"lark":                      notify.FactoryOf(lark.New),
	"mastodon":                  notify.FactoryOf(mastodon.New),
	"matrix":                    notify.FactoryOf(matrix.New),
	"msteams":                   notify.FactoryOf(msteams.New),
	"nats":                      notify.FactoryOf(nats.New),
	"opsgenie":                  notify.FactoryOf(opsgenie.New),
	"otel":                      notify.FactoryOf(otel.New),
	"pagerduty":                 notify.FactoryOf(pagerduty.New),
	"rocket":                    notify.FactoryOf(rocket.New),
	"sentry":                    notify.FactoryOf(sentry.New),
	"slack":                     notify.FactoryOf(slack.New),
	"telegram":                  notify.FactoryOf(telegram.New),
	"webex":                     notify.FactoryOf(webex.New),
	"zoom":                      notify.FactoryOf(zoom.New),
	"zulip":                     notify.FactoryOf(zulip.New),
}

// New builds the notifier for cfg.Type.
func New(cfg notify.Config) (notify.Notifier, error) {
	factory, ok := factories[cfg.Type]
	if !ok {
		return nil, fmt.Errorf("%w: %s (supported: %s)", notify.ErrUnsupportedType, cfg.Type, strings.Join(Types(), ", "))
	}
	return factory(cfg)
}

// Types lists the supported provider types, sorted.
func Types() []string {
	types := make([]string, 0, len(factories))
	for t := range factories {
		types = append(types, t)
	}
	slices.Sort(types)
	return types
}

// Build resolves Provider p against its secrets and builds its notifier,
// returning the timeout of one attempt. The caller owns the notifier and
// closes it if it is an io.Closer; config snapshots get theirs from a
// notifiers.Cache over New instead.
func Build(p api.Provider, lookup notify.SecretLookup) (notify.Notifier, time.Duration, error) {
	cfg, err := notify.Resolve(p, lookup)
	if err != nil {
		return nil, 0, err
	}
	n, err := New(cfg)
	if err != nil {
		return nil, 0, err
	}
	return n, cfg.Timeout, nil
}
