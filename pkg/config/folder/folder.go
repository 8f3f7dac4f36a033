// Package folder is local mode's config source: a folder of Flux YAML,
// loaded into memory and reloaded on SIGHUP or when a file changes. A reload
// that fails keeps the last good config.
package folder

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
)

// Loader reads and validates the config under dir.
type Loader func(dir string) (*api.Config, error)

// Store serves the config of one folder.
type Store struct {
	dir       string
	load      Loader
	notifiers config.Notifiers
	logger    *slog.Logger
	current   atomic.Pointer[config.Snapshot]
	last      atomic.Pointer[config.ReloadStatus]
	// OnReload, when set, is told the outcome of every reload after the
	// first load, for a metric. Set it before Watch.
	OnReload func(config.ReloadStatus)
	// Debounce coalesces the bursts of file events an editor or a
	// `kubectl`-style rewrite produces into one reload.
	Debounce time.Duration
}

var _ config.Source = (*Store)(nil)

// Open loads dir; its Providers take their notifiers from notifiers, which
// outlive reloads. It fails when the first load fails, since there is no
// last good config to fall back to.
func Open(dir string, load Loader, notifiers config.Notifiers, logger *slog.Logger) (*Store, error) {
	s := &Store{dir: dir, load: load, notifiers: notifiers, logger: logger, Debounce: 200 * time.Millisecond}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Snapshot implements config.Source.
func (s *Store) Snapshot() *config.Snapshot { return s.current.Load() }

// Reload reads the folder again and swaps the config in when it is valid.
func (s *Store) Reload() error {
	cfg, err := s.load(s.dir)
	if err != nil {
		return err
	}
	snap, err := config.NewSnapshot(cfg, s.notifiers, config.SnapshotOptions{Eager: true, IndexReceivers: true})
	if err != nil {
		return err
	}
	s.current.Store(snap)
	snap.RetainNotifiers()
	s.logger.Info("config loaded", "dir", s.dir,
		"providers", snap.Counts[api.KindProvider], "alerts", snap.Counts[api.KindAlert],
		"receivers", snap.Counts[api.KindReceiver], "secrets", snap.Counts[api.KindSecret])
	return nil
}

// LastReload implements config.Reloading: the outcome of the last reload
// after the first load, if any.
func (s *Store) LastReload() (config.ReloadStatus, bool) {
	if st := s.last.Load(); st != nil {
		return *st, true
	}
	return config.ReloadStatus{}, false
}

// Watch reloads on changes to the folder until ctx ends. The caller
// handles SIGHUP, with Refresh: a signal handler must outlive the watcher,
// which may stop early (too many inotify instances) or at shutdown.
func (s *Store) Watch(ctx context.Context) error {
	watcher, err := fsnotify.NewWatcher()
	if err != nil {
		return err
	}
	defer watcher.Close()
	if err := s.watchTree(watcher); err != nil {
		return err
	}

	var debounce <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-watcher.Events:
			if !ok {
				return nil
			}
			if ev.Has(fsnotify.Create) {
				// New subfolders must be watched too.
				if info, err := os.Stat(ev.Name); err == nil && info.IsDir() {
					_ = s.watchTree(watcher)
				}
			}
			debounce = time.After(s.Debounce)
		case <-debounce:
			debounce = nil
			s.Refresh("file change")
		case err, ok := <-watcher.Errors:
			if !ok {
				return nil
			}
			s.logger.Warn("watching the config folder failed", "dir", s.dir, "error", err.Error())
		}
	}
}

// Refresh reloads for trigger ("SIGHUP", "file change"), logs a failure,
// and records the outcome for LastReload and OnReload.
func (s *Store) Refresh(trigger string) {
	st := config.ReloadStatus{At: time.Now().UTC(), Trigger: trigger}
	if err := s.Reload(); err != nil {
		st.Error = err.Error()
		s.logger.Error("config reload failed, keeping the last good config", "trigger", trigger, "dir", s.dir, "error", st.Error)
	}
	s.last.Store(&st)
	if s.OnReload != nil {
		s.OnReload(st)
	}
}

func (s *Store) watchTree(w *fsnotify.Watcher) error {
	return filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if path != s.dir && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		return w.Add(path)
	})
}
