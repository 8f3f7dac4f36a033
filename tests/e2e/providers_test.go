package e2e

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/registry"
	"github.com/heraldhq/herald/tests/internal/harness"
)

// providerSetup is what one type's Provider needs besides its sink.
type providerSetup struct {
	apiVersion string // of the Provider and Alert manifests; harness.NotificationAPIVersion when empty
	path       string // appended to the sink's URL
	channel    string
	username   string
	secret     map[string]string
}

// httpProviders configures a Provider of every HTTP type. A type Herald
// registers but this table does not know fails the test, so none is left
// out; notHTTP lists the types that cannot point at a local sink.
var httpProviders = map[string]providerSetup{
	"alertmanager":   {path: "/api/v2/alerts"},
	"datadog":        {secret: map[string]string{"token": "dd-api-key"}},
	"discord":        {path: "/api/webhooks/1/x"},
	"generic":        {path: "/hook"},
	"generic-hmac":   {path: "/hook", secret: map[string]string{"token": hmacToken}},
	"githubdispatch": {path: "/flux/podinfo", secret: map[string]string{"token": "ghp-e2e"}},
	"googlechat":     {path: "/v1/spaces/x/messages"},
	"grafana":        {path: "/api/annotations", secret: map[string]string{"token": "glsa-e2e"}},
	"incident.io":    {path: "/v2/alert_events/http/x", secret: map[string]string{"token": "inc-e2e"}},
	"lark":           {path: "/open-apis/bot/v2/hook/x"},
	"mastodon":       {apiVersion: "notification.toolkit.fluxcd.io/v1", path: "/?visibility=unlisted", secret: map[string]string{"token": "mastodon-e2e"}},
	"matrix":         {channel: "!room:example.org", secret: map[string]string{"token": "syt-e2e"}},
	"msteams":        {path: "/workflows/x"},
	"opsgenie":       {path: "/v2/alerts", secret: map[string]string{"token": "genie-e2e"}},
	"pagerduty":      {channel: "routing-key-e2e"},
	"rocket":         {path: "/hooks/x", channel: "general", username: "flux"},
	"slack":          {path: "/services/T0/B0/x", channel: "general", secret: map[string]string{"token": slackToken}},
	"webex":          {path: "/v1/messages", channel: "room-e2e", secret: map[string]string{"token": "webex-e2e"}},
	"zoom":           {path: "/inbound/x", secret: map[string]string{"token": "zoom-e2e"}},
	"zulip":          {path: "/", channel: "general/flux", secret: map[string]string{"username": "bot@example.org", "password": "zulip-e2e"}},
}

var notHTTP = map[string]string{
	"telegram":      "always posts to api.telegram.org, whatever the address",
	"nats":          "NATS protocol; tested against nats-server",
	"googlepubsub":  "posts to pubsub.googleapis.com and the key's token_uri, whatever the address",
	"azureeventhub": "AMQP",
	"sentry":        "the envelope carries a random event ID and the send time; its package decodes it",
	"otel":          "the span ends at the send time; its package decodes the OTLP protobuf",
	// The Git providers talk to a host's API, not one sink; each has its
	// fake host in its package, and TestGitCommitStatus drives one here.
	"github":                    "a commit-status API: TestGitCommitStatus",
	"gitlab":                    "a commit-status API: its package's fake GitLab",
	"gitea":                     "a commit-status API: its package's fake Gitea",
	"bitbucket":                 "a commit-status API: its package's fake Bitbucket",
	"bitbucketserver":           "a commit-status API: its package's fake Bitbucket Server",
	"azuredevops":               "a commit-status API: its package's fake Azure DevOps",
	"githubpullrequestcomment":  "a comment API: its package's fake GitHub",
	"gitlabmergerequestcomment": "a comment API: its package's fake GitLab",
	"giteapullrequestcomment":   "a comment API: its package's fake Gitea",
}

// TestEveryHTTPProvider posts one Flux event through herald serve to one
// Provider of every HTTP type, each on its own sink. Each sink must get
// exactly the requests the provider's own package sends for that event,
// whose bodies its golden tests compare with Flux's.
func TestEveryHTTPProvider(t *testing.T) {
	t.Parallel()
	cfg := harness.Config{}
	sinks := map[string]*harness.Sink{}
	providers := map[string]api.Provider{}
	secrets := map[string]map[string][]byte{}
	for _, typ := range registry.Types() {
		if _, skip := notHTTP[typ]; skip {
			continue
		}
		setup, ok := httpProviders[typ]
		if !ok {
			t.Errorf("provider type %s is registered but not in httpProviders: add it, or to notHTTP with the reason", typ)
			continue
		}
		s := sink(t, nil)
		sinks[typ] = s
		name := "p-" + slug(typ)
		p := harness.Provider{APIVersion: setup.apiVersion, Name: name, Namespace: ns, Type: typ, Address: s.URL() + setup.path, Channel: setup.channel, Username: setup.username}
		if setup.secret != nil {
			p.SecretRef = name
			cfg.Secrets = append(cfg.Secrets, harness.Secret{Name: name, Namespace: ns, StringData: setup.secret})
			secrets[name] = map[string][]byte{}
			for k, v := range setup.secret {
				secrets[name][k] = []byte(v)
			}
		}
		cfg.Providers = append(cfg.Providers, p)
		cfg.Alerts = append(cfg.Alerts, harness.Alert{APIVersion: setup.apiVersion, Name: name, Namespace: ns, ProviderRef: name, EventSources: allKustomizations})
		providers[typ] = api.Provider{
			Metadata: api.ObjectMeta{Name: name, Namespace: ns},
			Spec:     api.ProviderSpec{Type: typ, Channel: setup.channel, Username: setup.username},
		}
		if p.SecretRef != "" {
			providers[typ] = withSecretRef(providers[typ], p.SecretRef)
		}
	}
	herald := serve(t, cfg)
	rec := newRecorder(t, herald.URL)
	obj := fluxObject(kustomizationGVK, ns, "podinfo", nil)
	ex := rec.send(t, obj, map[string]string{"kustomize.toolkit.fluxcd.io/revision": revision}, corev1.EventTypeNormal,
		"ReconciliationSucceeded", "Applied revision: "+revision)
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	combined, err := event.Decode(withMetadata(decodeEvent(t, ex.Body), map[string]string{"revision": revision}))
	if err != nil {
		t.Fatal(err)
	}

	types := make([]string, 0, len(sinks))
	for typ := range sinks {
		types = append(types, typ)
	}
	slices.Sort(types)
	for _, typ := range types {
		t.Run(typ, func(t *testing.T) {
			want := reference(t, providers[typ], httpProviders[typ].path, secrets, combined)
			if _, err := sinks[typ].WaitFor(len(want), deliveryMax); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond) // nothing more may arrive
			got := sinks[typ].Requests()
			if len(got) != len(want) {
				t.Fatalf("herald sent %d requests, the provider sends %d", len(got), len(want))
			}
			for i := range want {
				sameRequest(t, got[i], want[i])
			}
		})
	}
}

// reference sends ev with the provider's own package to a sink of its own
// and returns what arrived there.
func reference(t *testing.T, p api.Provider, path string, secrets map[string]map[string][]byte, ev event.Event) []harness.Request {
	t.Helper()
	s := sink(t, nil)
	p.Spec.Address = s.URL() + path
	n, timeout, err := registry.Build(p, func(namespace, name string) (map[string][]byte, error) { return secrets[name], nil })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if _, err := n.Notify(ctx, ev); err != nil {
		t.Fatalf("reference delivery: %v", err)
	}
	return s.Requests()
}

func sameRequest(t *testing.T, got, want harness.Request) {
	t.Helper()
	if got.Method != want.Method || got.Path != want.Path || got.RawQuery != want.RawQuery {
		t.Errorf("request %s %s?%s, want %s %s?%s", got.Method, got.Path, got.RawQuery, want.Method, want.Path, want.RawQuery)
	}
	for key := range want.Header {
		if key == "Content-Length" {
			continue
		}
		if g, w := got.Header.Values(key), want.Header.Values(key); !slices.Equal(g, w) {
			t.Errorf("header %s = %q, want %q", key, g, w)
		}
	}
	if len(got.Header) != len(want.Header) {
		t.Errorf("headers %v, want %v", got.Header, want.Header)
	}
	checkBody(t, got.Body, want.Body)
}

func withSecretRef(p api.Provider, name string) api.Provider {
	p.Spec.SecretRef = &api.LocalObjectReference{Name: name}
	return p
}

// slug makes a provider type a valid object name (incident.io).
func slug(typ string) string {
	out := []byte(typ)
	for i, c := range out {
		if c == '.' {
			out[i] = '-'
		}
	}
	return string(out)
}
