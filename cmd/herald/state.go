package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/store"
)

// stateFile is the bbolt file in a --state-dir; adminSocket is the unix
// socket through which `herald deliveries` and `herald replay --state-dir`
// reach the herald serve that holds the file.
const (
	stateFile   = "herald.db"
	adminSocket = "admin.sock"
)

// defaultStateDir is HERALD_STATE_DIR, else herald in the user's state
// directory ($XDG_STATE_HOME, else ~/.local/state), else "" (in memory)
// when there is no home directory.
func defaultStateDir() string {
	if dir, ok := os.LookupEnv("HERALD_STATE_DIR"); ok {
		return dir
	}
	if dir := os.Getenv("XDG_STATE_HOME"); filepath.IsAbs(dir) {
		return filepath.Join(dir, "herald")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	return filepath.Join(home, ".local", "state", "herald")
}

// deliveryAdmin lists and replays local mode's deliveries: through a
// running herald serve, or in its state file when none runs.
type deliveryAdmin interface {
	List(ctx context.Context) ([]delivery.Entry, error)
	// Replay makes up to max dead letters (all when max <= 0) pending again
	// and reports how many.
	Replay(ctx context.Context, max int) (int, error)
}

// journalAdmin works on the state file directly: replayed deliveries are
// sent when herald serve next starts.
type journalAdmin struct{ journal store.DeliveryJournal }

func (a journalAdmin) List(ctx context.Context) ([]delivery.Entry, error) {
	return delivery.ListJournal(ctx, a.journal)
}

func (a journalAdmin) Replay(ctx context.Context, max int) (int, error) {
	jobs, err := delivery.ReplayJournal(ctx, a.journal, max, time.Now())
	return len(jobs), err
}

// queueAdmin is the running queue, which the admin socket serves.
type queueAdmin struct{ queue *delivery.MemoryQueue }

func (a queueAdmin) List(ctx context.Context) ([]delivery.Entry, error) {
	return delivery.ListJournal(ctx, a.queue.Journal)
}

func (a queueAdmin) Replay(ctx context.Context, max int) (int, error) {
	return a.queue.Replay(ctx, max)
}

// deliveryListing is the JSON of GET /deliveries and of `herald deliveries
// -o json`.
type deliveryListing struct {
	Deliveries []delivery.Entry `json:"deliveries"`
}

// adminHandler serves a deliveryAdmin on the admin socket.
func adminHandler(a deliveryAdmin) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /deliveries", func(w http.ResponseWriter, r *http.Request) {
		entries, err := a.List(r.Context())
		if err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeAdminJSON(w, deliveryListing{Deliveries: orEmpty(entries)})
	})
	mux.HandleFunc("POST /replay", func(w http.ResponseWriter, r *http.Request) {
		max, err := strconv.Atoi(r.URL.Query().Get("max"))
		if err != nil || max < 0 {
			adminError(w, http.StatusBadRequest, "max must be a whole number, 0 for all")
			return
		}
		n, err := a.Replay(r.Context(), max)
		if err != nil {
			adminError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeAdminJSON(w, map[string]int{"replayed": n})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		adminError(w, http.StatusNotFound, "no "+r.Method+" "+r.URL.Path+" here; the admin socket serves GET /deliveries and POST /replay?max=N")
	})
	return mux
}

func orEmpty(e []delivery.Entry) []delivery.Entry {
	if e == nil {
		return []delivery.Entry{}
	}
	return e
}

func writeAdminJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func adminError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// serveAdmin listens on the state directory's admin socket, readable and
// writable by the user alone, until ctx ends. A socket left by a crashed
// process is replaced. It returns a function that waits for the server to
// stop.
func serveAdmin(ctx context.Context, dir string, a deliveryAdmin, logger *slog.Logger) (func(), error) {
	path := filepath.Join(dir, adminSocket)
	// Only this process holds the state file, so a socket there is stale.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("removing the stale admin socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	srv := &http.Server{Handler: adminHandler(a), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("admin socket stopped", "error", err.Error())
		}
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	return func() { <-done; _ = os.Remove(path) }, nil
}

// socketAdmin reaches a running herald serve through its admin socket.
type socketAdmin struct {
	client *http.Client
}

// dialAdmin connects to the admin socket of dir; ok is false when no
// herald serve answers there.
func dialAdmin(dir string) (socketAdmin, bool) {
	path := filepath.Join(dir, adminSocket)
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return socketAdmin{}, false
	}
	conn.Close()
	return socketAdmin{client: &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}}, true
}

func (a socketAdmin) List(ctx context.Context) ([]delivery.Entry, error) {
	var out deliveryListing
	err := a.call(ctx, http.MethodGet, "/deliveries", &out)
	return out.Deliveries, err
}

func (a socketAdmin) Replay(ctx context.Context, max int) (int, error) {
	var out struct {
		Replayed int `json:"replayed"`
	}
	err := a.call(ctx, http.MethodPost, "/replay?max="+strconv.Itoa(max), &out)
	return out.Replayed, err
}

func (a socketAdmin) call(ctx context.Context, method, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, "http://herald"+path, nil)
	if err != nil {
		return err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return fmt.Errorf("asking herald serve: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading herald serve's answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal(body, &e)
		return fmt.Errorf("herald serve answered %d: %s", resp.StatusCode, e.Error)
	}
	return json.Unmarshal(body, out)
}
