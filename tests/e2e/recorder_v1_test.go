package e2e

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/heraldhq/herald/pkg/tlsreload/tlsreloadtest"
	"github.com/heraldhq/herald/tests/internal/harness"
)

// fluxRecorderBin builds tests/fluxrecorder once for the tests that post
// with Flux's newest recorder.
var fluxRecorderBin = sync.OnceValues(func() (string, error) {
	return harness.BuildFluxRecorder(binDir)
})

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
// v0.123.0, which sends the v1 event payload (action, relatedObject), through
// herald serve to a generic Provider: the event is accepted, and the sink
// receives the recorder's event with its v1 fields, byte for byte but for
// the metadata key that Flux's server, and Herald, strip of the involved
// object's group. Flux's own server of the same time drops the v1 fields;
// Herald follows the v1 schema (README, "Where Herald differs").
func TestNewestFluxRecorder(t *testing.T) {
	t.Parallel()
	bin, err := fluxRecorderBin()
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

// TestNewestFluxRecorderHTTPS posts with the newest recorder given a TLS
// config, as a controller whose --events-addr is served over HTTPS: the
// recorder switches the address to https itself, and herald serve, with
// --tls-cert-file and --tls-key-file, takes the event and delivers it.
func TestNewestFluxRecorderHTTPS(t *testing.T) {
	t.Parallel()
	bin, err := fluxRecorderBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := tlsreloadtest.NewCA(t)
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	ca.WriteServerCert(t, certFile, keyFile, 1)
	ca.WriteCert(t, caFile)

	generic := sink(t, nil)
	cfgDir := filepath.Join(dir, "config")
	cfg := harness.Config{
		Providers: []harness.Provider{{Name: "generic", Namespace: ns, Type: "generic", Address: generic.URL() + "/hook"}},
		Alerts:    []harness.Alert{{Name: "generic", Namespace: ns, ProviderRef: "generic", EventSources: allKustomizations}},
	}
	if err := cfg.Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	herald, err := harness.Start(heraldBin, cfgDir, harness.Options{
		Args:      []string{"--tls-cert-file", certFile, "--tls-key-file", keyFile},
		TLSClient: ca.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := herald.Stop(); err != nil {
			t.Errorf("stopping herald: %v", err)
		}
		if t.Failed() {
			t.Logf("herald serve stderr:\n%s", herald.Stderr())
		}
	})

	// The address as a controller is given it: http, which the recorder
	// turns into https once it has a TLS config.
	out, err := exec.Command(bin, "-url", "http://"+herald.Addr+"/", "-ca-file", caFile, "-name", "podinfo",
		"-message", "Reconciliation finished over TLS").CombinedOutput()
	if err != nil {
		t.Fatalf("fluxrecorder: %v\n%s", err, out)
	}
	got, err := generic.WaitFor(1, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}
	var delivered struct {
		Message        string `json:"message"`
		InvolvedObject struct {
			Name string `json:"name"`
		} `json:"involvedObject"`
	}
	if err := json.Unmarshal(got[0].Body, &delivered); err != nil || delivered.Message != "Reconciliation finished over TLS" || delivered.InvolvedObject.Name != "podinfo" {
		t.Fatalf("the generic Provider sent %s (%v), want the recorder's event", got[0].Body, err)
	}
}
