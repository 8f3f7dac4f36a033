package pagerduty_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/pagerduty"
)

const routingKey = "R0UT1NGK3Y0000000000000000000000"

func newNotifier(t *testing.T, address string) *pagerduty.Notifier {
	t.Helper()
	return notifytest.New(t, pagerduty.New, notify.Config{Address: notify.Secret(address), Channel: routingKey})
}

// notifyAll sends ev to a sink at an address with a path and a query, which
// PagerDuty ignores, and returns the requests the sink received.
func notifyAll(t *testing.T, ev event.Event, respond http.HandlerFunc) ([]notifytest.Request, bool, error) {
	t.Helper()
	sink := notifytest.NewSink(t, respond)
	retry, err := newNotifier(t, sink.URL+"/v2/enqueue?ignored=1").Notify(context.Background(), ev)
	return sink.Requests(), retry, err
}

// Errors send one trigger; info events a resolve and a change event.
func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
		files    []string
	}{
		{"info", event.SeverityInfo, true, []string{"info-resolve", "info-change"}},
		{"info-no-metadata", event.SeverityInfo, false, []string{"info-no-metadata-resolve", "info-no-metadata-change"}},
		{"error", event.SeverityError, true, []string{"error-trigger"}},
		{"error-no-metadata", event.SeverityError, false, []string{"error-no-metadata-trigger"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reqs, _, err := notifyAll(t, notifytest.ReferenceEvent(tc.severity, tc.metadata), nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != len(tc.files) {
				t.Fatalf("%d requests, want %d", len(reqs), len(tc.files))
			}
			for i, name := range tc.files {
				notifytest.AssertGolden(t, name, reqs[i])
			}
		})
	}
}

// The §4.2 bodies for the reference event, independently of the golden files.
func TestReferenceBodies(t *testing.T) {
	reqs, _, err := notifyAll(t, notifytest.ReferenceEvent(event.SeverityError, true), nil)
	if err != nil {
		t.Fatal(err)
	}
	const trigger = `{"routing_key":"` + routingKey + `","event_action":"trigger","dedup_key":"7d0cdc51-ddcf-4743-b223-83ca5c699632","payload":{"summary":"reconciliation succeeded: kustomization/podinfo","source":"Flux kustomize-controller","severity":"error","timestamp":"2024-05-06T07:08:09Z","component":"podinfo","group":"Kustomization","custom_details":{"message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"}}}}`
	if len(reqs) != 1 || reqs[0].URI != "/v2/enqueue" || string(reqs[0].Body) != trigger {
		t.Errorf("requests = %+v\nwant one POST /v2/enqueue with %s", reqs, trigger)
	}

	reqs, _, err = notifyAll(t, notifytest.ReferenceEvent(event.SeverityInfo, false), nil)
	if err != nil {
		t.Fatal(err)
	}
	const resolve = `{"routing_key":"` + routingKey + `","event_action":"resolve","dedup_key":"7d0cdc51-ddcf-4743-b223-83ca5c699632"}`
	const change = `{"routing_key":"` + routingKey + `","payload":{"summary":"reconciliation succeeded: kustomization/podinfo","source":"Flux kustomize-controller","timestamp":"2024-05-06T07:08:09Z","custom_details":{"message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","metadata":null}}}`
	if len(reqs) != 2 || reqs[0].URI != "/v2/enqueue" || string(reqs[0].Body) != resolve ||
		reqs[1].URI != "/v2/change/enqueue" || string(reqs[1].Body) != change {
		t.Errorf("requests = %+v\nwant /v2/enqueue %s\nthen /v2/change/enqueue %s", reqs, resolve, change)
	}
}

// Flux's pagerduty_test.go and §4.2: Progressing is skipped; trace and other
// severities resolve without a change event.
func TestSeverityAndReason(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		reason   string
		wantURIs []string
	}{
		{"progressing error", event.SeverityError, "Progressing", nil},
		{"progressing info", event.SeverityInfo, "Progressing", nil},
		{"trace", event.SeverityTrace, "Succeeded", []string{"/v2/enqueue"}},
		{"failed", event.SeverityError, "Failed", []string{"/v2/enqueue"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := notifytest.FluxTestEvent()
			ev.Severity, ev.Reason = tc.severity, tc.reason
			reqs, retry, err := notifyAll(t, ev, nil)
			if err != nil || retry {
				t.Fatalf("retry = %v, err = %v", retry, err)
			}
			if len(reqs) != len(tc.wantURIs) {
				t.Fatalf("%d requests, want %v", len(reqs), tc.wantURIs)
			}
			for i, uri := range tc.wantURIs {
				if reqs[i].URI != uri {
					t.Errorf("request %d to %s, want %s", i, reqs[i].URI, uri)
				}
			}
		})
	}
	e := pagerduty.NewEvent(notifytest.FluxTestEvent(), "k")
	if e.Action != "resolve" || e.Payload != nil {
		t.Errorf("info event = %+v", e)
	}
	ev := notifytest.FluxTestEvent()
	ev.Severity, ev.Reason = event.SeverityError, "Failed"
	if p := pagerduty.NewEvent(ev, "k").Payload; p.Summary != "failed: gitrepository/webapp" || p.Severity != "error" {
		t.Errorf("payload = %+v", p)
	}
}

// Flux's TestNewPagerDuty: only scheme and host of the address count.
func TestBaseURL(t *testing.T) {
	for address, want := range map[string]string{
		"https://events.pagerduty.com/v2/enqueue":    "https://events.pagerduty.com",
		"https://events.eu.pagerduty.com/v2/enqueue": "https://events.eu.pagerduty.com",
		"http://user:pw@127.0.0.1:8080/x?y=z":        "http://127.0.0.1:8080",
	} {
		if got := newNotifier(t, address).BaseURL; got != want {
			t.Errorf("BaseURL(%s) = %s, want %s", address, got, want)
		}
	}
	if pagerduty.DefaultBaseURL != "https://events.pagerduty.com" {
		t.Errorf("DefaultBaseURL = %s", pagerduty.DefaultBaseURL)
	}
}

// A failed change event is reported as such and retried.
func TestChangeEventFails(t *testing.T) {
	respond := func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/change/enqueue" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}
	reqs, retry, err := notifyAll(t, notifytest.ReferenceEvent(event.SeverityInfo, true), respond)
	if err == nil || err.Error() != "failed sending change event: request failed with status code 503: " || !retry {
		t.Fatalf("retry = %v, err = %v", retry, err)
	}
	if len(reqs) != 2 {
		t.Errorf("%d requests, want 2", len(reqs))
	}
}

func TestNewError(t *testing.T) {
	_, err := pagerduty.New(notify.Config{Address: "not a url", Channel: routingKey})
	if err == nil || err.Error() != "invalid address: invalid URI for request" {
		t.Fatalf("err = %v", err)
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, newNotifier)
}

// The routing key is masked too: it is in the body a 400 may echo.
func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, pagerduty.New, func(cfg *notify.Config) { cfg.Channel = notifytest.LeakToken })
}
