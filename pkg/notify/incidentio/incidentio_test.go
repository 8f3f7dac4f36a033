package incidentio_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/incidentio"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is the body of §4.2 for the reference event at info with
// metadata: metadata keys sorted, as Go marshals maps.
const referenceBody = `{"title":"kustomization/podinfo.flux-system: ReconciliationSucceeded","status":"resolved","deduplication_key":"7d0cdc51-ddcf-4743-b223-83ca5c699632","description":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","metadata":{"reason":"ReconciliationSucceeded","reportingController":"kustomize-controller","revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","severity":"info"}}`

const token = "incidentio-api-token"

func newNotifier(t *testing.T, address string) notify.Notifier {
	t.Helper()
	return notifytest.New(t, incidentio.New, notify.Config{Address: notify.Secret(address), Token: token})
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		severity string
		metadata bool
	}{
		{name: "info", severity: event.SeverityInfo, metadata: true},
		{name: "info-no-metadata", severity: event.SeverityInfo},
		{name: "error", severity: event.SeverityError, metadata: true},
		{name: "error-no-metadata", severity: event.SeverityError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			n := newNotifier(t, sink.URL+"/v2/alert_events/http/01HZXALERTSOURCE")
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(tc.severity, tc.metadata)); err != nil {
				t.Fatal(err)
			}
			notifytest.AssertGolden(t, tc.name, sink.Last(t))
		})
	}
}

func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	if _, err := newNotifier(t, sink.URL).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
		t.Fatal(err)
	}
	req := sink.Last(t)
	if got := string(req.Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
	if got := req.Header.Get("Authorization"); got != "Bearer "+token {
		t.Errorf("Authorization = %q", got)
	}
}

// Flux's incidentio_test.go: resolved for info with the metadata it adds,
// firing for errors.
func TestPayload(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.InvolvedObject.UID = "2f5c9d21-b62c-4a35-9b17-1b0f4c8e2d3a"
	p := incidentio.NewPayload(ev)
	if p.Title != "gitrepository/webapp.gitops-system: reason" || p.Status != "resolved" ||
		p.DeduplicationKey != "2f5c9d21-b62c-4a35-9b17-1b0f4c8e2d3a" || p.Description != "message" {
		t.Errorf("payload = %+v", p)
	}
	want := map[string]string{"test": "metadata", "severity": "info", "reason": "reason", "reportingController": "source-controller"}
	if len(p.Metadata) != len(want) {
		t.Errorf("metadata = %v, want %v", p.Metadata, want)
	}
	for k, v := range want {
		if p.Metadata[k] != v {
			t.Errorf("metadata[%s] = %q, want %q", k, p.Metadata[k], v)
		}
	}
	if ev.Metadata["severity"] != "" {
		t.Error("NewPayload wrote into the event's metadata")
	}

	ev.Severity = event.SeverityError
	if p := incidentio.NewPayload(ev); p.Status != "firing" || p.Metadata["severity"] != "error" {
		t.Errorf("error event: status %q, severity %q", p.Status, p.Metadata["severity"])
	}

	// Flux's own keys win over metadata of the same name; an empty
	// controller and message are left out; source_url is never sent.
	ev.Metadata = map[string]string{"severity": "spoofed", "reason": "spoofed", "reportingController": "kept"}
	ev.ReportingController, ev.Message = "", ""
	b, err := json.Marshal(incidentio.NewPayload(ev))
	if err != nil {
		t.Fatal(err)
	}
	const wantJSON = `{"title":"gitrepository/webapp.gitops-system: reason","status":"firing","deduplication_key":"2f5c9d21-b62c-4a35-9b17-1b0f4c8e2d3a","metadata":{"reason":"reason","reportingController":"kept","severity":"error"}}`
	if string(b) != wantJSON {
		t.Errorf("got  %s\nwant %s", b, wantJSON)
	}
}

// Flux's incidentio_test.go: Progressing is skipped without a request.
func TestSkipsProgressing(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	ev := notifytest.ReferenceEvent(event.SeverityError, true)
	ev.Reason = incidentio.ProgressingReason
	retry, err := newNotifier(t, sink.URL).Notify(context.Background(), ev)
	if err != nil || retry {
		t.Fatalf("retry = %v, err = %v", retry, err)
	}
	if n := len(sink.Requests()); n != 0 {
		t.Errorf("%d requests sent for a Progressing event", n)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		address string
		token   string
		want    string
	}{
		{name: "not a URL", address: "invalid-url/" + notifytest.LeakPathToken, token: token,
			want: "invalid incident.io alert source URL: invalid address: invalid URI for request"},
		{name: "empty token", address: "https://api.incident.io/v2/alert_events/http/some-id",
			want: "empty incident.io API token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := incidentio.New(notify.Config{Address: notify.Secret(tc.address), Token: notify.Secret(tc.token)})
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, newNotifier)
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, incidentio.New)
}
