package alertmanager_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/alertmanager"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

func notifyOnce(t *testing.T, cfg notify.Config, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	cfg.Address = notify.Secret(sink.URL + "/api/v2/alerts")
	n := notifytest.New(t, alertmanager.New, cfg)
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
		{name: "token", severity: event.SeverityError, metadata: true, cfg: notify.Config{Token: "am-token"}},
		{name: "basic-over-token", severity: event.SeverityError, metadata: true, cfg: notify.Config{Token: "am-token", Username: "admin", Password: "pw"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.AssertGolden(t, tc.name, notifyOnce(t, tc.cfg, notifytest.ReferenceEvent(tc.severity, tc.metadata)))
		})
	}
}

// The §4.2 body for the reference event, independently of the golden
// files: always firing, endsAt the zero time, the TitleCase alertname.
func TestReferenceBody(t *testing.T) {
	req := notifyOnce(t, notify.Config{}, notifytest.ReferenceEvent(event.SeverityInfo, true))
	const want = `[{"status":"firing","labels":{"alertname":"FluxKustomizationReconciliationsucceeded","kind":"Kustomization","name":"podinfo","namespace":"flux-system","reason":"ReconciliationSucceeded","reportingcontroller":"kustomize-controller","revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","severity":"info"},"annotations":{"message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"startsAt":"2024-05-06T07:08:09Z","endsAt":"0001-01-01T00:00:00Z"}]`
	if string(req.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", req.Body, want)
	}
}

// summary moves from the labels to the annotations, fixed labels win over
// metadata, and the event's own metadata is left alone.
func TestAlert(t *testing.T) {
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Metadata = map[string]string{"summary": "cluster-1", "severity": "spoofed", "env": "prod"}
	a := alertmanager.NewAlert(ev)
	if a.Annotations["summary"] != "cluster-1" || len(a.Annotations) != 2 {
		t.Errorf("annotations = %v", a.Annotations)
	}
	if _, ok := a.Labels["summary"]; ok || a.Labels["severity"] != "error" || a.Labels["env"] != "prod" {
		t.Errorf("labels = %v", a.Labels)
	}
	if len(ev.Metadata) != 3 || ev.Metadata["summary"] != "cluster-1" {
		t.Errorf("the event's metadata was changed: %v", ev.Metadata)
	}
}

// x/text's title caser, as Flux uses it, including its word breaks.
func TestAlertName(t *testing.T) {
	for reason, want := range map[string]string{
		"ReconciliationSucceeded": "FluxKustomizationReconciliationsucceeded",
		"HealthCheckFailed":       "FluxKustomizationHealthcheckfailed",
		"update sucesful":         "FluxKustomizationUpdate Sucesful",
		"dependency-not-ready":    "FluxKustomizationDependency-Not-Ready",
		"ARTIFACT_FAILED":         "FluxKustomizationArtifact_failed",
		"":                        "FluxKustomization",
	} {
		ev := notifytest.ReferenceEvent(event.SeverityError, false)
		ev.Reason = reason
		if got := alertmanager.AlertName(ev); got != want {
			t.Errorf("AlertName(%q) = %q, want %q", reason, got, want)
		}
	}
}

// Basic auth needs both username and password and then replaces the token.
func TestAuth(t *testing.T) {
	basic := notifytest.BasicAuth("admin", "pw")
	notifytest.RunAuthTests(t, func(t *testing.T, cfg notify.Config) notifytest.Request {
		return notifyOnce(t, cfg, notifytest.FluxTestEvent())
	}, []notifytest.AuthCase{
		{Name: "none", Cfg: notify.Config{}, Want: ""},
		{Name: "token", Cfg: notify.Config{Token: "t"}, Want: "Bearer t"},
		{Name: "basic over token", Cfg: notify.Config{Token: "t", Username: "admin", Password: "pw"}, Want: basic},
		{Name: "basic", Cfg: notify.Config{Username: "admin", Password: "pw"}, Want: basic},
		{Name: "username alone", Cfg: notify.Config{Token: "t", Username: "admin"}, Want: "Bearer t"},
		{Name: "password alone", Cfg: notify.Config{Password: "pw"}, Want: ""},
	})
}

func TestNewError(t *testing.T) {
	notifytest.NewError(t, alertmanager.New, notify.Config{Address: "alertmanager/api/v2/alerts/" + notifytest.LeakPathToken}, "invalid address: invalid URI for request")
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(alertmanager.New, notify.Config{Token: "t"}))
}

func TestNoSecretLeak(t *testing.T) {
	// With username and password planted, basic auth is what is sent.
	notifytest.AssertNoSecretLeak(t, alertmanager.New)
	notifytest.AssertNoSecretLeak(t, alertmanager.New, func(cfg *notify.Config) { cfg.Username, cfg.Password = "", "" })
}
