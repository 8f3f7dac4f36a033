package datadog_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/datadog"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const apiKey = "0123456789abcdef0123456789abcdef"

func newNotifier(t *testing.T, address string) *datadog.Notifier {
	t.Helper()
	return notifytest.New(t, datadog.New, notify.Config{Address: notify.Secret(address), Token: apiKey})
}

// notifyOnce posts ev to a sink given as an address with a path, which the
// SDK, and so Herald, ignores.
func notifyOnce(t *testing.T, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, notifytest.Status(202, `{"status":"ok"}`))
	if retry, err := newNotifier(t, sink.URL+"/ignored/path?x=1").Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	return sink.Last(t)
}

func TestGolden(t *testing.T) {
	notifytest.RunGolden(t, notifyOnce)
}

// The §4.2 request for the reference event, independently of the golden
// files: alphabetical keys, lower-cased tags, a trailing newline.
func TestReferenceRequest(t *testing.T) {
	req := notifyOnce(t, notifytest.ReferenceEvent(event.SeverityError, true))
	const want = `{"alert_type":"error","date_happened":1714979289,"source_type_name":"fluxcd","tags":["flux_reporting_controller:kustomize-controller","flux_reason:reconciliationsucceeded","kube_kind:kustomization","kube_name:podinfo","kube_namespace:flux-system","revision:main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"],"text":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","title":"Events from the Kustomization podinfo/flux-system"}` + "\n"
	if string(req.Body) != want {
		t.Errorf("body:\n got %q\nwant %q", req.Body, want)
	}
	if req.Method != "POST" || req.URI != "/api/v1/events" {
		t.Errorf("request line = %s %s", req.Method, req.URI)
	}
	for name, want := range map[string]string{"DD-API-KEY": apiKey, "Accept": "application/json", "Content-Type": "application/json"} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

// Flux's datadog_test.go: every tag lower-cased, metadata included; the
// metadata tags come sorted by their original key ("Zone" before "test"),
// and the text is escaped as by encoding/json.
func TestEvent(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Metadata["Zone"] = "EU-West"
	ev.Message = "a < b & c"
	e := datadog.NewEvent(ev)
	want := []string{
		"flux_reporting_controller:source-controller", "flux_reason:reason", "kube_kind:gitrepository",
		"kube_name:webapp", "kube_namespace:gitops-system", "zone:eu-west", "test:metadata",
	}
	if len(e.Tags) != len(want) {
		t.Fatalf("tags = %q", e.Tags)
	}
	for i := range want {
		if e.Tags[i] != want[i] {
			t.Errorf("tags[%d] = %q, want %q", i, e.Tags[i], want[i])
		}
	}
	if e.AlertType != "info" || e.DateHappened != 1664520029 || e.Title != "Events from the GitRepository webapp/gitops-system" {
		t.Errorf("event = %+v", e)
	}
	body := string(notifyOnce(t, ev).Body)
	if want := `"text":"a \u003c b \u0026 c"`; !strings.Contains(body, want) {
		t.Errorf("body %s lacks %s", body, want)
	}
}

// Only scheme and host of the address count, each defaulting to the SDK's.
func TestBaseURL(t *testing.T) {
	for address, want := range map[string]string{
		"https://api.datadoghq.eu":            "https://api.datadoghq.eu",
		"https://api.us5.datadoghq.com/x?y=z": "https://api.us5.datadoghq.com",
		"http://user:pw@127.0.0.1:8126/":      "http://127.0.0.1:8126",
		"":                                    "https://api.datadoghq.com",
		"api.datadoghq.eu":                    "https://api.datadoghq.com",
		"//api.datadoghq.eu":                  "https://api.datadoghq.eu",
	} {
		if got := newNotifier(t, address).BaseURL; got != want {
			t.Errorf("BaseURL(%q) = %s, want %s", address, got, want)
		}
	}
	if datadog.DefaultBaseURL != "https://api.datadoghq.com" {
		t.Errorf("DefaultBaseURL = %s", datadog.DefaultBaseURL)
	}
}

// Flux's TestDataDogProviderErrors, without the address in the message.
func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"empty token", notify.Config{Address: "https://api.datadoghq.com"}, "token cannot be empty"},
		{"bad host", notify.Config{Address: "https://bad url/", Token: "k"}, "failed to parse address: invalid character <secret> in host name"},
		{"bad URL", notify.Config{Address: "https://bad url :)", Token: "k"}, "failed to parse address: invalid port <secret> after host"},
		{"bad port", notify.Config{Address: notify.Secret("http://127.0.0.1:" + notifytest.LeakPathToken), Token: "k"}, "failed to parse address: invalid port <secret> after host"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := datadog.New(tc.cfg); err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, newNotifier)
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, datadog.New)
}
