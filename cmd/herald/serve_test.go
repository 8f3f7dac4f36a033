package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
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
