package agent

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/tlsreload/tlsreloadtest"
)

// With --tls-cert-file and --tls-key-file the relay takes events over
// HTTPS from a client that trusts the issuing CA, and a connection opened
// after the files were replaced gets the new certificate.
func TestRunServesTLSAndReloads(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0ken"), 0o600); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlsreloadtest.NewCA(t)
	ca.WriteServerCert(t, certFile, keyFile, 7)
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusAccepted) }))
	defer herald.Close()
	u, _ := url.Parse(herald.URL + "/")
	cfg := Config{
		Addr: "127.0.0.1:0", HeraldURL: u, Cluster: "prod", TokenFile: token, BufferDir: dir,
		BufferMaxBytes: 1 << 20, NoKube: true, PollInterval: time.Second, RetryMaxDelay: time.Second,
		SendWorkers: 1, ShutdownGrace: time.Second, LogLevel: "info",
		WriteTimeout: time.Minute, MaxConnections: 16,
		TLSCertFile: certFile, TLSKeyFile: keyFile,
	}
	logs, lines := logLines(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, logs) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	listening := waitLog(t, lines, "forwarder listening")
	if listening["tls"] != true {
		t.Fatalf("listening log %v", listening)
	}
	base := "https://" + listening["addr"].(string)
	client := ca.Client()

	const event = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps"},"severity":"info","timestamp":"2026-11-22T03:04:41Z","message":"m","reason":"r","action":"Reconciled","reportingController":"kustomize-controller"}`
	resp, err := client.Post(base+"/", "application/json", strings.NewReader(event))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || tlsreloadtest.ServedSerial(t, resp) != 7 {
		t.Fatalf("status %d, serial %d", resp.StatusCode, tlsreloadtest.ServedSerial(t, resp))
	}

	ca.WriteServerCert(t, certFile, keyFile, 8)
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := client.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if tlsreloadtest.ServedSerial(t, resp) == 8 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was not served within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A plain-HTTP request is refused with Go's 400, not served.
	resp, err = http.Get("http://" + listening["addr"].(string) + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("plain HTTP: status %d, want 400", resp.StatusCode)
	}
}
