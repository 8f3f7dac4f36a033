package event

import (
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"
)

// The example of the behaviour reference, §3.
func TestDedupKeyReferenceVector(t *testing.T) {
	e := Event{
		InvolvedObject: ObjectReference{Kind: "Kustomization", Name: "podinfo", Namespace: "flux-system", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Message:        "Health check passed",
		Metadata:       map[string]string{"kustomize.toolkit.fluxcd.io/revision": "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},
	}
	const want = "02c9fee6efd96af4c59cbdf7db4f534eb9087cc6a370a0f4379600a3a8f195ed"
	if got := e.DedupKey(); got != want {
		t.Fatalf("DedupKey() = %s, want %s", got, want)
	}
}

func TestDedupKeyComponents(t *testing.T) {
	base := Event{
		InvolvedObject: ObjectReference{Kind: "Kustomization", Name: "podinfo", Namespace: "flux-system", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Severity:       SeverityInfo,
		Reason:         "ReconciliationSucceeded",
		Message:        "msg",
		Metadata:       map[string]string{"kustomize.toolkit.fluxcd.io/revision": "r1"},
	}
	key := base.DedupKey()
	change := func(f func(e *Event)) string {
		e := base
		e.Metadata = maps.Clone(base.Metadata)
		f(&e)
		return e.DedupKey()
	}
	same := map[string]func(e *Event){
		"severity":       func(e *Event) { e.Severity = SeverityError },
		"reason":         func(e *Event) { e.Reason = "Other" },
		"timestamp":      func(e *Event) { e.Timestamp = NewTime(time.Unix(1, 0)) },
		"other metadata": func(e *Event) { e.Metadata["kustomize.toolkit.fluxcd.io/foo"] = "x" },
		"annotation rev": func(e *Event) { e.Metadata["event.toolkit.fluxcd.io/revision"] = "x" },
	}
	for name, f := range same {
		if got := change(f); got != key {
			t.Errorf("changing %s changed the key", name)
		}
	}
	differ := map[string]func(e *Event){
		"revision":       func(e *Event) { e.Metadata["kustomize.toolkit.fluxcd.io/revision"] = "r2" },
		"originRevision": func(e *Event) { e.Metadata["kustomize.toolkit.fluxcd.io/originRevision"] = "o" },
		"token":          func(e *Event) { e.Metadata["kustomize.toolkit.fluxcd.io/token"] = "t" },
		"message":        func(e *Event) { e.Message = "other" },
		"name":           func(e *Event) { e.InvolvedObject.Name = "other" },
		"namespace":      func(e *Event) { e.InvolvedObject.Namespace = "other" },
		"kind":           func(e *Event) { e.InvolvedObject.Kind = "HelmRelease" },
	}
	for name, f := range differ {
		if got := change(f); got == key {
			t.Errorf("changing %s did not change the key", name)
		}
	}
}

func TestCleanMetadata(t *testing.T) {
	e := Event{
		InvolvedObject: ObjectReference{APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Metadata: map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": "r",
			"kustomize.toolkit.fluxcd.io/token":    "t",
			"kustomize.toolkit.fluxcd.io/Checksum": "c",
			"kustomize.toolkit.fluxcd.io/DIGEST":   "d",
			"event.toolkit.fluxcd.io/summary":      "s",
			"source.toolkit.fluxcd.io/revision":    "other group",
			"plain":                                "p",
		},
	}
	e.CleanMetadata()
	want := map[string]string{
		"kustomize.toolkit.fluxcd.io/revision": "r",
		"kustomize.toolkit.fluxcd.io/token":    "t",
		"event.toolkit.fluxcd.io/summary":      "s",
	}
	if !maps.Equal(e.Metadata, want) {
		t.Fatalf("CleanMetadata() = %v, want %v", e.Metadata, want)
	}
	e.DropToken()
	delete(want, "kustomize.toolkit.fluxcd.io/token")
	if !maps.Equal(e.Metadata, want) {
		t.Fatalf("DropToken() = %v, want %v", e.Metadata, want)
	}

	core := Event{InvolvedObject: ObjectReference{APIVersion: "v1"}, Metadata: map[string]string{"plain": "x", "v1/revision": "y"}}
	core.CleanMetadata()
	if core.Metadata != nil {
		t.Fatalf("core group metadata = %v, want nil", core.Metadata)
	}
}

// The recorder's sample request of the behaviour reference, §1.2, must
// survive a decode and encode unchanged.
const fluxV1Beta1Body = `{"involvedObject":{"kind":"ConfigMap","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51","apiVersion":"v1","resourceVersion":"1234"},"severity":"error","timestamp":"2026-11-22T03:04:41Z","message":"failed x","reason":"HealthCheckFailed","metadata":{"event.toolkit.fluxcd.io/summary":"s","v1/revision":"main@sha1:abc"},"reportingController":"kustomize-controller","reportingInstance":"vm"}`

func TestRoundTripFluxBytes(t *testing.T) {
	const body = fluxV1Beta1Body
	e, err := Decode([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != body {
		t.Fatalf("round trip:\n got %s\nwant %s", out, body)
	}
}

func TestDecodeLabelsAndErrors(t *testing.T) {
	e, err := Decode([]byte(`{"involvedObject":{"kind":"K","name":"n","namespace":"ns"},"involvedObjectLabels":{"team":"a"},"unknown":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if e.ObjectLabels["team"] != "a" {
		t.Fatalf("labels = %v", e.ObjectLabels)
	}
	if out, _ := json.Marshal(e); strings.Contains(string(out), "team") {
		t.Fatalf("labels leaked into the provider JSON: %s", out)
	}
	if err := e.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	for _, bad := range []string{``, `[]`, `{"severity":1}`, `{} {}`, `{"timestamp":"yesterday"}`} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q) succeeded", bad)
		}
	}
	empty, err := Decode([]byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := empty.Validate(); err == nil || !strings.Contains(err.Error(), "involvedObject.kind, involvedObject.name, involvedObject.namespace") {
		t.Fatalf("Validate() = %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"involvedObject":{"kind":"K","name":"n","namespace":"ns","apiVersion":"g/v1"},"metadata":{"g/token":"t"},"timestamp":"2024-05-06T07:08:09Z"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(fluxV1Body))
	f.Add([]byte(`{"relatedObject":{"kind":"K"},"action":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			return
		}
		version := e.PayloadVersion()
		e.CleanMetadata()
		_ = e.DedupKey()
		e.DropToken()
		out, err := json.Marshal(e)
		if err != nil {
			t.Fatalf("decoded event does not marshal: %v", err)
		}
		// The encoding is stable and keeps the payload version: decoding it
		// again gives the same version and the same bytes.
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if got := again.PayloadVersion(); got != version {
			t.Fatalf("payload version %s became %s through %s", version, got, out)
		}
		if out2, _ := json.Marshal(again); string(out2) != string(out) {
			t.Fatalf("encoding not stable:\n%s\n%s", out, out2)
		}
	})
}
