package matrix_test

import (
	"context"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/matrix"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const room = "!abcdef:matrix.org"

func notifyOnce(t *testing.T, cfg notify.Config, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	cfg.Address = notify.Secret(sink.URL + cfg.Address.Reveal())
	n := notifytest.New(t, matrix.New, cfg)
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
			ev := notifytest.ReferenceEvent(tc.severity, tc.metadata)
			req := notifyOnce(t, notify.Config{Channel: room, Token: "syt_access_token"}, ev)
			notifytest.AssertGolden(t, tc.name, req)
			// The path ends with the SHA-1 of the event as the generic
			// provider sends it, so it changes with the severity.
			id, err := matrix.TxnID(ev)
			if err != nil {
				t.Fatal(err)
			}
			if want := "/_matrix/client/r0/rooms/" + room + "/send/m.room.message/" + id; req.URI != want {
				t.Errorf("URI = %s, want %s", req.URI, want)
			}
		})
	}
}

// The §4.2 body for the reference event, independently of the golden files.
func TestReferenceBody(t *testing.T) {
	req := notifyOnce(t, notify.Config{Channel: room, Token: "t"}, notifytest.ReferenceEvent(event.SeverityInfo, true))
	const want = `{"body":"💫 kustomization/podinfo.flux-system\nApplied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07\n- revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07\n","msgtype":"m.text"}`
	if string(req.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", req.Body, want)
	}
	if req.Method != "PUT" {
		t.Errorf("method = %s, want PUT", req.Method)
	}
}

// Flux's matrix_test.go vector: sha1sum of the marshalled event.
func TestTxnIDVector(t *testing.T) {
	ev := event.Event{
		Severity:  event.SeverityInfo,
		Timestamp: event.NewTime(time.Date(2021, 8, 24, 16, 18, 0, 0, time.UTC)),
		Message:   "update successful",
		Reason:    "update sucesful",
	}
	got, err := matrix.TxnID(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got != "37d91b4f6a1e44c6a38273b0a0fd408fade7b0f5" {
		t.Errorf("TxnID = %s", got)
	}
}

// The address is joined raw, with its own path, and the metadata lines are
// sorted by key.
func TestAddressPathAndMetadataOrder(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Metadata = map[string]string{"b": "2", "a": "1"}
	req := notifyOnce(t, notify.Config{Address: "/base", Channel: room}, ev)
	id, _ := matrix.TxnID(ev)
	if want := "/base/_matrix/client/r0/rooms/" + room + "/send/m.room.message/" + id; req.URI != want {
		t.Errorf("URI = %s, want %s", req.URI, want)
	}
	const want = `{"body":"💫 gitrepository/webapp.gitops-system\nmessage\n- a: 1\n- b: 2\n","msgtype":"m.text"}`
	if string(req.Body) != want {
		t.Errorf("body = %s", req.Body)
	}
	// Flux sends the header even without a token; Go trims the space.
	if got := req.Header.Get("Authorization"); got != "Bearer" {
		t.Errorf("Authorization = %q", got)
	}
}

func TestNewErrors(t *testing.T) {
	for _, address := range []string{"", "matrix.org/" + notifytest.LeakPathToken} {
		_, err := matrix.New(notify.Config{Address: notify.Secret(address), Channel: room})
		if err == nil {
			t.Fatalf("New(%q) succeeded", address)
		}
		if address != "" && err.Error() != "invalid address: invalid URI for request" {
			t.Errorf("err = %v", err)
		}
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(matrix.New, notify.Config{Channel: room, Token: "t"}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, matrix.New, func(cfg *notify.Config) { cfg.Channel = room })
}

// Without a token Flux still sends "Authorization: Bearer ", and the
// homeserver's reply names the scheme. No secret is in that header, so
// nothing of it is masked: the error keeps every "Bearer".
func TestEmptyTokenMasksNothing(t *testing.T) {
	const reply = `{"errcode":"M_MISSING_TOKEN","error":"Missing access token: send Authorization: Bearer <token>"}`
	sink := notifytest.NewSink(t, notifytest.Status(401, reply))
	n, err := matrix.New(notify.Config{Address: notify.Secret(sink.URL), Channel: room})
	if err != nil {
		t.Fatal(err)
	}
	_, err = n.Notify(context.Background(), notifytest.FluxTestEvent())
	if err == nil {
		t.Fatal("Notify succeeded against a 401")
	}
	if want := "request failed with status code 401: " + reply; err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}
