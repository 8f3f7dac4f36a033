package main

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/server"
	"github.com/heraldhq/herald/pkg/tlsreload/tlsreloadtest"
)

// TestServeRefusesInboxOffLoopback: the inbox is unauthenticated and lists
// what providers were sent, so herald serve refuses it on any address but
// loopback, before it loads anything (the config folder here does not
// exist; a check made later would fail on that instead).
func TestServeRefusesInboxOffLoopback(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-config")
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:9292", "herald.example.com:9292"} {
		var stderr bytes.Buffer
		code := runServe([]string{"--config", missing, "--state-dir", "", "--inbox", "--addr", addr}, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), "--inbox listens on loopback only") || !strings.Contains(stderr.String(), addr) {
			t.Errorf("--inbox --addr %s: exit %d, stderr %q; want 2 and why", addr, code, stderr.String())
		}
	}
}

func TestLoopbackHost(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:9292": true, "127.0.0.2:1": true, "[::1]:0": true, "localhost:9292": true,
		"0.0.0.0:9292": false, ":9292": false, "[::]:0": false, "10.0.0.1:80": false, "example.com:80": false,
	} {
		if got := loopbackHost(addr); got != want {
			t.Errorf("loopbackHost(%q) = %v, want %v", addr, got, want)
		}
	}
}

// freeAddr is a loopback address with a port nothing listens on just now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// herald serve --tls-cert-file --tls-key-file serves HTTPS with the
// certificate of the files, and a new connection after the files were
// replaced gets the new certificate.
func TestServeTLSReloadsTheCertificate(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ca := tlsreloadtest.NewCA(t)
	ca.WriteServerCert(t, certFile, keyFile, 1001)
	f := serveFlags{
		config: t.TempDir(), addr: freeAddr(t), rateLimitInterval: time.Minute, maxDeliveryAge: time.Minute,
		shutdownTimeout: 5 * time.Second, retryScale: 1, workers: 1, logLevel: "info",
		limits:      server.Limits{WriteTimeout: 10 * time.Second, MaxConnections: 16},
		tlsCertFile: certFile, tlsKeyFile: keyFile,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, f, slog.New(slog.DiscardHandler)) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})

	client, url := ca.Client(), "https://"+f.addr+"/metrics"
	serial := func() int64 {
		t.Helper()
		resp, err := client.Get(url)
		for i := 0; err != nil && i < 100; i++ {
			time.Sleep(50 * time.Millisecond)
			resp, err = client.Get(url)
		}
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return tlsreloadtest.ServedSerial(t, resp)
	}
	if got := serial(); got != 1001 {
		t.Fatalf("serial %d, want 1001", got)
	}
	ca.WriteServerCert(t, certFile, keyFile, 1002)
	deadline := time.Now().Add(5 * time.Second)
	for serial() != 1002 {
		if time.Now().After(deadline) {
			t.Fatal("the replaced certificate was not served within 5 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestServeTLSFlagsGoTogether(t *testing.T) {
	for _, args := range [][]string{{"--tls-cert-file", "c.pem"}, {"--tls-key-file", "k.pem"}} {
		var stderr bytes.Buffer
		if code := runServe(append(args, "--state-dir", ""), &stderr); code != 2 || !strings.Contains(stderr.String(), "go together") {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
	// A pair that does not load stops herald serve before it listens.
	var stderr bytes.Buffer
	missing := filepath.Join(t.TempDir(), "none.pem")
	if code := runServe([]string{"--tls-cert-file", missing, "--tls-key-file", missing, "--state-dir", "", "--addr", "127.0.0.1:0"}, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), "no such file") {
		t.Errorf("missing files: exit %d, stderr %q", code, stderr.String())
	}
}
