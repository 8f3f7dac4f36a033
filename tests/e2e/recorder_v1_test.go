package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"testing"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// newRecorderExchange is what tests/fluxrecorder printed: the request Flux's
// newest recorder made, and the status it was answered.
type newRecorderExchange struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header"`
	Body   json.RawMessage   `json:"body"`
	Status int               `json:"status"`
}

// TestNewestFluxRecorder posts with the recorder of fluxcd/pkg/runtime
// v0.117.0, which sends the v1 event payload (action, relatedObject), through
// herald serve to a generic Provider: the event is accepted, and the sink
// receives the recorder's event with its v1 fields, byte for byte but for
// the metadata key that Flux's server, and Herald, strip of the involved
// object's group. Flux's own server of the same time drops the v1 fields;
// Herald follows the v1 schema (README, "Where Herald differs").
func TestNewestFluxRecorder(t *testing.T) {
	t.Parallel()
	bin, err := harness.BuildFluxRecorder(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	generic := sink(t, nil)
	herald := serve(t, harness.Config{
		Providers: []harness.Provider{{Name: "generic", Namespace: ns, Type: "generic", Address: generic.URL() + "/hook"}},
		Alerts:    []harness.Alert{{Name: "generic", Namespace: ns, ProviderRef: "generic", EventSources: allKustomizations}},
	})

	out, err := exec.Command(bin, "-url", herald.URL+"/", "-name", "podinfo",
		"-related-kind", "GitRepository", "-related-name", "podinfo", "-action", "Reconcile",
		"-message", "Reconciliation finished in 1.2s, next run in 10m0s",
		"-annotation", "kustomize.toolkit.fluxcd.io/revision="+revision).Output()
	if err != nil {
		t.Fatalf("fluxrecorder: %v", err)
	}
	var ex newRecorderExchange
	if err := json.Unmarshal(out, &ex); err != nil {
		t.Fatalf("fluxrecorder printed %q: %v", out, err)
	}
	if ex.Status != 202 {
		t.Fatalf("herald answered the newest recorder %d, want 202: %s", ex.Status, ex.Body)
	}
	var sent map[string]json.RawMessage
	if err := json.Unmarshal(ex.Body, &sent); err != nil {
		t.Fatal(err)
	}
	if string(sent["action"]) != `"Reconcile"` || sent["relatedObject"] == nil {
		t.Fatalf("the recorder did not send a v1 event (action %s, relatedObject %s): the test proves nothing", sent["action"], sent["relatedObject"])
	}

	got, err := generic.WaitFor(1, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Replace(ex.Body, []byte(`"kustomize.toolkit.fluxcd.io/revision":`), []byte(`"revision":`), 1)
	if bytes.Equal(want, ex.Body) {
		t.Fatalf("the recorder's event has no revision key to clean up: %s", ex.Body)
	}
	if !bytes.Equal(got[0].Body, want) {
		t.Errorf("the generic Provider sent\n%s\nwant\n%s", got[0].Body, want)
	}
}
