package event

import (
	"encoding/json"
	"testing"
)

// fluxV1Body is what fluxcd/pkg/runtime v0.123.0's recorder posts: the
// json.Marshal of a fluxcd/pkg/apis/event v0.32.0 v1.Event, whose keys come
// in the order involvedObject, relatedObject, severity, timestamp, message,
// reason, action, metadata, reportingController, reportingInstance.
const fluxV1Body = `{"involvedObject":{"kind":"HelmRelease","namespace":"apps","name":"podinfo","uid":"7d0cdc51","apiVersion":"helm.toolkit.fluxcd.io/v2","resourceVersion":"42"},"relatedObject":{"kind":"HelmChart","namespace":"flux-system","name":"apps-podinfo","apiVersion":"source.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2026-11-22T03:04:41Z","message":"Helm upgrade succeeded","reason":"UpgradeSucceeded","action":"Reconciled","metadata":{"helm.toolkit.fluxcd.io/revision":"6.7.0"},"reportingController":"helm-controller","reportingInstance":"helm-controller-5f7d"}`

func TestDecodePayloadVersion(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		want       string
		action     *string
		hasRelated bool
	}{
		{name: "v1beta1", body: `{"involvedObject":{"kind":"K"},"reason":"r"}`, want: PayloadV1Beta1},
		{name: "v1 with both", body: fluxV1Body, want: PayloadV1, action: NewAction("Reconciled"), hasRelated: true},
		{name: "v1 action only", body: `{"action":"Failed"}`, want: PayloadV1, action: NewAction("Failed")},
		{name: "v1 empty action", body: `{"action":""}`, want: PayloadV1, action: NewAction("")},
		// v1 requires action: a related object alone is completed with "".
		{name: "v1 related only", body: `{"relatedObject":{"kind":"K"}}`, want: PayloadV1, action: NewAction(""), hasRelated: true},
		{name: "null action", body: `{"action":null}`, want: PayloadV1Beta1},
		{name: "null related", body: `{"relatedObject":null}`, want: PayloadV1Beta1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Decode([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if got := e.PayloadVersion(); got != tc.want {
				t.Errorf("PayloadVersion() = %s, want %s", got, tc.want)
			}
			switch {
			case (e.Action == nil) != (tc.action == nil):
				t.Errorf("Action = %v, want %v", e.Action, tc.action)
			case e.Action != nil && *e.Action != *tc.action:
				t.Errorf("Action = %q, want %q", *e.Action, *tc.action)
			}
			if (e.RelatedObject != nil) != tc.hasRelated {
				t.Errorf("RelatedObject = %v, want present %v", e.RelatedObject, tc.hasRelated)
			}
		})
	}
	for _, bad := range []string{`{"action":1}`, `{"relatedObject":"x"}`, `{"relatedObject":{"kind":2}}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%s) succeeded", bad)
		}
	}
}

// A v1 event keeps its v1 fields: it encodes back to the recorder's bytes,
// and so does it after the round trip through a delivery job's JSON.
func TestRoundTripFluxV1Bytes(t *testing.T) {
	e, err := Decode([]byte(fluxV1Body))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != fluxV1Body {
		t.Fatalf("round trip:\n got %s\nwant %s", out, fluxV1Body)
	}
	var again Event
	if err := json.Unmarshal(out, &again); err != nil {
		t.Fatal(err)
	}
	if again.PayloadVersion() != PayloadV1 || *again.Action != "Reconciled" || again.RelatedObject.Name != "apps-podinfo" {
		t.Fatalf("after a second round trip: %+v", again)
	}
}

// v1 requires action, so a v1 event with an empty one still carries the
// key, and one without a related object carries no relatedObject key.
func TestMarshalV1Keys(t *testing.T) {
	e := Event{InvolvedObject: ObjectReference{Kind: "K"}, Action: NewAction("")}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"involvedObject":{"kind":"K"},"severity":"","timestamp":null,"message":"","reason":"","action":"","reportingController":""}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// Flux's rules do not change with the payload: the metadata clean-up and the
// de-duplication key of a v1 event are those of the same event in v1beta1,
// whatever its action and related object.
func TestV1CleanupAndDedupLikeV1Beta1(t *testing.T) {
	v1, err := Decode([]byte(fluxV1Body))
	if err != nil {
		t.Fatal(err)
	}
	v1.Metadata["helm.toolkit.fluxcd.io/token"] = "t1"
	v1.Metadata["helm.toolkit.fluxcd.io/digest"] = "sha256:x"
	v1.Metadata["other"] = "dropped"
	beta := v1
	beta.Action, beta.RelatedObject = nil, nil
	beta.Metadata = map[string]string{}
	for k, v := range v1.Metadata {
		beta.Metadata[k] = v
	}
	v1.CleanMetadata()
	beta.CleanMetadata()
	if len(v1.Metadata) != 2 || v1.Metadata["helm.toolkit.fluxcd.io/revision"] != "6.7.0" || v1.Metadata["helm.toolkit.fluxcd.io/token"] != "t1" {
		t.Fatalf("cleaned v1 metadata = %v", v1.Metadata)
	}
	if v1.DedupKey() != beta.DedupKey() {
		t.Fatal("a v1 event and its v1beta1 form have different keys")
	}
	other := v1
	other.Action = NewAction("Failed")
	other.RelatedObject = &ObjectReference{Kind: "OCIRepository"}
	if other.DedupKey() != v1.DedupKey() {
		t.Fatal("action or relatedObject changed the key")
	}
}
