package opsgenie_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/opsgenie"
)

// providerUID is the UID of the §4.2 alias example.
const providerUID = "1f2e3d4c-0000-0000-0000-000000000000"

func notifyOnce(t *testing.T, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, notifytest.Status(202, `{"result":"Request will be processed"}`))
	n := notifytest.New(t, opsgenie.New, notify.Config{Address: notify.Secret(sink.URL + "/v2/alerts"), Token: "og-api-key", UID: providerUID})
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
	}{
		{"info", event.SeverityInfo, true},
		{"info-no-metadata", event.SeverityInfo, false},
		{"error", event.SeverityError, true},
		{"error-no-metadata", event.SeverityError, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := notifyOnce(t, notifytest.ReferenceEvent(tc.severity, tc.metadata))
			notifytest.AssertGolden(t, tc.name, req)
			if got := req.Header.Get("Authorization"); got != "GenieKey og-api-key" {
				t.Errorf("Authorization = %q", got)
			}
		})
	}
}

// The §4.2 body and alias example, independently of the golden files.
func TestReferenceBody(t *testing.T) {
	ev := notifytest.ReferenceEvent(event.SeverityInfo, true)
	req := notifyOnce(t, ev)
	const want = `{"message":"Kustomization/podinfo","alias":"5a1fd99113c2136871db54633c67498cd1892f91142e1002cdf6e3d4bb41d649","description":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","details":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","severity":"info"}}`
	if string(req.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", req.Body, want)
	}
	if len(ev.Metadata) != 1 {
		t.Errorf("the event's metadata was changed: %v", ev.Metadata)
	}
}

// Flux's opsgenie_test.go: the alias is stable across messages and
// severities, changes with the reason, namespace or provider, and works
// without metadata.
func TestAlias(t *testing.T) {
	base := notifytest.ReferenceEvent(event.SeverityInfo, true)
	want := opsgenie.Alias(base, providerUID)
	if len(want) != 64 {
		t.Fatalf("alias %q is not 64 hex characters", want)
	}

	same := base
	same.Message, same.Severity, same.Metadata = "another message", event.SeverityError, nil
	if got := opsgenie.Alias(same, providerUID); got != want {
		t.Errorf("alias changed with message and severity: %s", got)
	}

	for name, change := range map[string]func(*event.Event) string{
		"reason":    func(e *event.Event) string { e.Reason = "HealthCheckFailed"; return providerUID },
		"namespace": func(e *event.Event) string { e.InvolvedObject.Namespace = "apps"; return providerUID },
		"name":      func(e *event.Event) string { e.InvolvedObject.Name = "other"; return providerUID },
		"kind":      func(e *event.Event) string { e.InvolvedObject.Kind = "HelmRelease"; return providerUID },
		"provider":  func(*event.Event) string { return "0c9c2e41-0000-0000-0000-000000000000" },
	} {
		ev := base
		uid := change(&ev)
		if opsgenie.Alias(ev, uid) == want {
			t.Errorf("alias did not change with the %s", name)
		}
	}

	a := opsgenie.NewAlert(notifytest.ReferenceEvent(event.SeverityError, false), providerUID)
	if len(a.Details) != 1 || a.Details["severity"] != "error" {
		t.Errorf("details = %v", a.Details)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"empty token", notify.Config{Address: "https://api.opsgenie.com/v2/alerts"}, "empty Opsgenie apikey/token"},
		{"relative address", notify.Config{Address: "api.opsgenie.com/" + notifytest.LeakPathToken, Token: "k"}, "invalid address: invalid URI for request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := opsgenie.New(tc.cfg); err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(opsgenie.New, notify.Config{Token: "k", UID: providerUID}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, opsgenie.New)
}
