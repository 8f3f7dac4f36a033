package folder

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/event"
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
	var logs testlog.Buffer
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
	var reloads atomic.Int32
	s.OnReload = func(config.ReloadStatus) { reloads.Add(1) }
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

	// The failed reload is what LastReload says, and OnReload was told.
	st, ok := s.LastReload()
	if !ok || st.Trigger != "file change" || !strings.Contains(st.Error, "eventSeverity") {
		t.Fatalf("LastReload() = %+v, %v; want the failed file change", st, ok)
	}
	if got := reloads.Load(); got < 2 {
		t.Fatalf("OnReload told of %d reloads, want at least 2", got)
	}

	// Refresh (what herald serve does on SIGHUP) reloads too: fix the file
	// behind the watcher's back.
	if err := os.WriteFile(file, []byte(provider+alerts(2)), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the fixed file to load", func() bool { return s.Snapshot().Alerts.Len() == 2 })
	s.Refresh("SIGHUP")
	if st, _ := s.LastReload(); st.Trigger != "SIGHUP" || st.Error != "" {
		t.Fatalf("LastReload() after a good SIGHUP reload = %+v", st)
	}
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

// closer is a notifier holding a connection; it counts its closes.
type closer struct{ closed int }

func (*closer) Notify(context.Context, event.Event) (bool, error) { return false, nil }
func (c *closer) Close() error                                    { c.closed++; return nil }

// A reload keeps the notifier of an unchanged Provider, and closes the
// notifier of a Provider that changed or left the folder.
func TestReloadKeepsUnchangedNotifiers(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var built []*closer
	owned := notifiers.New(func(notify.Config) (notify.Notifier, error) {
		built = append(built, &closer{})
		return built[len(built)-1], nil
	})
	write(provider + alerts(1))
	s, err := Open(dir, load, owned, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	write(provider + alerts(2))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(built) != 1 || built[0].closed != 0 {
		t.Fatalf("an unchanged Provider: %d builds, first closed %d times; want 1 build, no close", len(built), built[0].closed)
	}
	write(strings.Replace(provider, "127.0.0.1:1/", "127.0.0.1:2/", 1) + alerts(1))
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if len(built) != 2 || built[0].closed != 1 {
		t.Fatalf("a changed Provider: %d builds, old one closed %d times; want 2 builds, one close", len(built), built[0].closed)
	}
	write("")
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	if built[1].closed != 1 {
		t.Fatalf("a removed Provider's notifier closed %d times, want 1", built[1].closed)
	}
}
