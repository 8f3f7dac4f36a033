package generic_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/generic"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is the generic body of the behaviour reference §4.2, which
// Flux produced for the reference event.
const referenceBody = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

// referenceV1Body is referenceBody as a v1 event (ReferenceEventV1): the keys
// and their order are those of fluxcd/pkg/apis/event v0.32.0's v1.Event.
const referenceV1Body = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"relatedObject":{"kind":"GitRepository","namespace":"flux-system","name":"flux-system","apiVersion":"source.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","action":"Reconciled","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

func notifyOnce(t *testing.T, factory notify.Factory, cfg notify.Config, ev event.Event) {
	t.Helper()
	n, err := factory(cfg)
	if err != nil {
		t.Fatalf("factory: %v", err)
	}
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name     string
		factory  notify.Factory
		token    string
		severity string
		metadata bool
		// v1 sends the event as a v1 payload.
		v1 bool
		// signature, when set, is the X-Signature value the request must carry.
		signature string
	}{
		{name: "generic-info", factory: generic.New, severity: event.SeverityInfo, metadata: true},
		{name: "generic-info-no-metadata", factory: generic.New, severity: event.SeverityInfo},
		{name: "generic-error", factory: generic.New, severity: event.SeverityError, metadata: true},
		{name: "generic-error-no-metadata", factory: generic.New, severity: event.SeverityError},
		{
			name: "generic-hmac-info", factory: generic.NewHMAC, token: "secret", severity: event.SeverityInfo, metadata: true,
			signature: "sha256=11cc2cbb5f650e9d0caf8d0bc0b6958f2f70a9503a7f0387d8a4767aacd7fbc5",
		},
		{name: "generic-hmac-error-no-metadata", factory: generic.NewHMAC, token: "secret", severity: event.SeverityError},
		{name: "generic-v1-info", factory: generic.New, severity: event.SeverityInfo, metadata: true, v1: true},
		{name: "generic-v1-error-no-metadata", factory: generic.New, severity: event.SeverityError, v1: true},
		{
			name: "generic-hmac-v1-info", factory: generic.NewHMAC, token: "secret", severity: event.SeverityInfo, metadata: true, v1: true,
			signature: "sha256=" + hmacHex("secret", referenceV1Body),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			cfg := notify.Config{Address: notify.Secret(sink.URL + "/hook?x=1"), Token: notify.Secret(tc.token)}
			ev := notifytest.ReferenceEvent(tc.severity, tc.metadata)
			if tc.v1 {
				ev = notifytest.ReferenceEventV1(tc.severity, tc.metadata)
			}
			notifyOnce(t, tc.factory, cfg, ev)
			req := sink.Last(t)
			notifytest.AssertGolden(t, tc.name, req)
			if tc.signature != "" {
				if got := req.Header.Get(generic.SignatureHeader); got != tc.signature {
					t.Errorf("X-Signature = %s, want %s", got, tc.signature)
				}
			}
		})
	}
}

// The body must be Flux's byte for byte, independently of the golden file.
func TestReferenceBody(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, generic.New, notify.Config{Address: notify.Secret(sink.URL)},
		notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := string(sink.Last(t).Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// A v1 event's body keeps action and relatedObject, in the v1 schema's order,
// independently of the golden file.
func TestReferenceV1Body(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	notifyOnce(t, generic.New, notify.Config{Address: notify.Secret(sink.URL)},
		notifytest.ReferenceEventV1(event.SeverityInfo, true))
	if got := string(sink.Last(t).Body); got != referenceV1Body {
		t.Errorf("body:\n got %s\nwant %s", got, referenceV1Body)
	}
}

// hmacHex is the HMAC-SHA256 of body under key, computed apart from Sign.
func hmacHex(key, body string) string {
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

// Flux's forwarder_test.go: custom headers are sent, a preset X-Signature
// survives without a key and is replaced by the signature with one.
func TestForwarderVector(t *testing.T) {
	tests := []struct {
		name    string
		factory notify.Factory
		key     string
		preset  string
		want    []string // X-Signature values, nil for none
	}{
		{name: "no key", factory: generic.New},
		{name: "preset X-Signature persists", factory: generic.New, preset: "should be preserved", want: []string{"should be preserved"}},
		{
			name: "key overwrites X-Signature", factory: generic.NewHMAC, key: "7152fed34dd6149a7c75a276c510da27cb6f82b0",
			preset: "should be overwritten with actual signature",
			want:   []string{"sha256=65b018549b1254e7226d1c08f9567ee45bc9de0fc4e7b1a40253f9a018b08be7"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			headers := map[string]notify.Secret{"Authorization": "token"}
			if tc.preset != "" {
				headers["X-Signature"] = notify.Secret(tc.preset)
			}
			cfg := notify.Config{Address: notify.Secret(sink.URL), Token: notify.Secret(tc.key), Headers: headers}
			notifyOnce(t, tc.factory, cfg, notifytest.FluxTestEvent())
			req := sink.Last(t)
			if got := req.Header.Get("gotk-component"); got != "source-controller" {
				t.Errorf("Gotk-Component = %q", got)
			}
			if got := req.Header.Get("Authorization"); got != "token" {
				t.Errorf("Authorization = %q", got)
			}
			if got := req.Header.Values("X-Signature"); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("X-Signature = %q, want %q", got, tc.want)
			}
		})
	}
}

// The secret's headers are Set over Content-Type and Gotk-Component.
func TestSecretHeadersOverride(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	cfg := notify.Config{
		Address: notify.Secret(sink.URL),
		Headers: map[string]notify.Secret{"content-type": "text/plain", "Gotk-Component": "custom", "X-Extra": "1"},
	}
	notifyOnce(t, generic.New, cfg, notifytest.ReferenceEvent(event.SeverityInfo, true))
	h := sink.Last(t).Header
	for name, want := range map[string]string{"Content-Type": "text/plain", "Gotk-Component": "custom", "X-Extra": "1"} {
		if got := h.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("%s = %q, want [%s]", name, got, want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name    string
		factory notify.Factory
		cfg     notify.Config
		want    string
	}{
		{"empty address", generic.New, notify.Config{}, "invalid address: empty url"},
		{"relative address", generic.New, notify.Config{Address: "hooks/abc"}, "invalid address: invalid URI for request"},
		{"hmac without token", generic.NewHMAC, notify.Config{Address: "https://example.org/hook"}, "HMAC key is empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.factory(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	for name, factory := range map[string]notify.Factory{"generic": generic.New, "generic-hmac": generic.NewHMAC} {
		t.Run(name, func(t *testing.T) {
			notifytest.RunRetryTests(t, notifytest.At(factory, notify.Config{Token: "key"}))
		})
	}
}

func TestNoSecretLeak(t *testing.T) {
	t.Run("generic", func(t *testing.T) { notifytest.AssertNoSecretLeak(t, generic.New) })
	t.Run("generic-hmac", func(t *testing.T) { notifytest.AssertNoSecretLeak(t, generic.NewHMAC) })
}

func TestSign(t *testing.T) {
	if got := generic.Sign([]byte("secret"), []byte(referenceBody)); got != "sha256=11cc2cbb5f650e9d0caf8d0bc0b6958f2f70a9503a7f0387d8a4767aacd7fbc5" {
		t.Errorf("Sign = %s", got)
	}
}
