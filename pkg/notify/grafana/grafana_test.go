package grafana_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/grafana"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

func notifyOnce(t *testing.T, cfg notify.Config, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	cfg.Address = notify.Secret(sink.URL + "/api/annotations/graphite")
	n := notifytest.New(t, grafana.New, cfg)
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		cfg      notify.Config
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
		{name: "token", severity: event.SeverityInfo, metadata: true, cfg: notify.Config{Token: "glsa_token", Username: "admin", Password: "pw"}},
		{name: "basic", severity: event.SeverityInfo, metadata: true, cfg: notify.Config{Username: "admin", Password: "pw"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.AssertGolden(t, tc.name, notifyOnce(t, tc.cfg, notifytest.ReferenceEvent(tc.severity, tc.metadata)))
		})
	}
}

// The §4.2 body for the reference event, independently of the golden files.
func TestReferenceBody(t *testing.T) {
	req := notifyOnce(t, notify.Config{}, notifytest.ReferenceEvent(event.SeverityInfo, true))
	const want = `{"when":1714979289,"text":"kustomization/podinfo.flux-system","tags":["flux","kustomize-controller","revision: main@sha1|a1afe267b54f38b46b487f6e938a6fd508278c07","kind: Kustomization","name: podinfo","namespace: flux-system"]}`
	if string(req.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", req.Body, want)
	}
}

// Flux's grafana_test.go: the tag order; metadata tags come sorted by key.
func TestPayload(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Metadata["a:b"] = "c:d"
	p := grafana.NewPayload(ev)
	want := []string{"flux", "source-controller", "a|b: c|d", "test: metadata", "kind: GitRepository", "name: webapp", "namespace: gitops-system"}
	if len(p.Tags) != len(want) {
		t.Fatalf("tags = %q", p.Tags)
	}
	for i := range want {
		if p.Tags[i] != want[i] {
			t.Errorf("tags[%d] = %q, want %q", i, p.Tags[i], want[i])
		}
	}
	if p.Text != "gitrepository/webapp.gitops-system" || p.When != 1664520029 {
		t.Errorf("text = %q, when = %d", p.Text, p.When)
	}
}

// A token wins over basic auth; basic auth needs both username and password.
func TestAuth(t *testing.T) {
	basic := notifytest.BasicAuth("admin", "pw")
	notifytest.RunAuthTests(t, func(t *testing.T, cfg notify.Config) notifytest.Request {
		return notifyOnce(t, cfg, notifytest.FluxTestEvent())
	}, []notifytest.AuthCase{
		{Name: "none", Cfg: notify.Config{}, Want: ""},
		{Name: "token", Cfg: notify.Config{Token: "t"}, Want: "Bearer t"},
		{Name: "token over basic", Cfg: notify.Config{Token: "t", Username: "admin", Password: "pw"}, Want: "Bearer t"},
		{Name: "basic", Cfg: notify.Config{Username: "admin", Password: "pw"}, Want: basic},
		{Name: "username alone", Cfg: notify.Config{Username: "admin"}, Want: ""},
		{Name: "password alone", Cfg: notify.Config{Password: "pw"}, Want: ""},
	})
}

func TestNewError(t *testing.T) {
	notifytest.NewError(t, grafana.New, notify.Config{Address: "grafana/" + notifytest.LeakPathToken}, "invalid address: invalid URI for request")
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(grafana.New, notify.Config{Token: "t"}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, grafana.New)
	// Without a token the basic credentials are sent, and must not leak.
	notifytest.AssertNoSecretLeak(t, grafana.New, func(cfg *notify.Config) { cfg.Token = "" })
}
