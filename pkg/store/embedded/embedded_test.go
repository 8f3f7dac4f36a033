package embedded

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
)

const provider = `apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata:
  name: hook
  namespace: flux-system
spec:
  type: generic
  address: http://127.0.0.1:1/
`

func alerts(n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString("---\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata:\n  name: a")
		b.WriteByte(byte('0' + i))
		b.WriteString("\n  namespace: flux-system\nspec:\n  providerRef:\n    name: hook\n  eventSources:\n    - kind: Kustomization\n      name: \"*\"\n")
	}
	return b.String()
}

func load(dir string) (*api.Config, error) {
	cfg, err := api.LoadPaths(dir)
	if err != nil {
		return nil, err
	}
	if res := api.Validate(cfg, api.ValidateOptions{}); len(res.Errors) > 0 {
		return nil, errors.Join(res.Errors...)
	}
	return cfg, nil
}

// build builds notifiers that are never used.
var build = notifiers.New(func(notify.Config) (notify.Notifier, error) { return nil, nil })

// syncBuffer is a log sink safe for the watcher goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestReloadOnChangeKeepsLastGoodConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(file, []byte(provider+alerts(1)), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s, err := Open(dir, load, build, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Debounce = 20 * time.Millisecond
	if n := s.Snapshot().Alerts.Len(); n != 1 {
		t.Fatalf("%d alerts, want 1", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx)
	time.Sleep(100 * time.Millisecond) // let the watcher start

	if err := os.WriteFile(file, []byte(provider+alerts(3)), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the file change to load 3 alerts", func() bool { return s.Snapshot().Alerts.Len() == 3 })

	// A broken file is refused and the last good config stays.
	if err := os.WriteFile(file, []byte(provider+alerts(1)+"---\nkind: Alert\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nmetadata: {name: bad}\nspec: {eventSeverity: loud}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the failed reload to be logged", func() bool {
		return strings.Contains(logs.String(), "config reload failed, keeping the last good config")
	})
	if n := s.Snapshot().Alerts.Len(); n != 3 {
		t.Fatalf("%d alerts after a bad reload, want the last good 3", n)
	}

	// SIGHUP reloads too: fix the file behind the watcher's back.
	if err := os.WriteFile(file, []byte(provider+alerts(2)), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed file to load", func() bool { return s.Snapshot().Alerts.Len() == 2 })
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a SIGHUP reload", func() bool { return strings.Count(logs.String(), `"msg":"config loaded"`) >= 4 })
}

func TestOpenFailsOnBadConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("kind: Nope\napiVersion: v9\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir, load, build, slog.Default()); err == nil || !strings.Contains(err.Error(), "x.yaml") {
		t.Fatalf("Open() = %v, want an error naming the file", err)
	}
}
