package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/buffer"
)

// logLines feeds each JSON log line Run writes to a channel.
func logLines(t *testing.T) (io.Writer, <-chan map[string]any) {
	t.Helper()
	r, w := io.Pipe()
	ch := make(chan map[string]any, 10000)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Errorf("log line %q is not JSON: %v", sc.Text(), err)
				continue
			}
			ch <- m
		}
	}()
	t.Cleanup(func() { w.Close() })
	return w, ch
}

func waitLog(t *testing.T, ch <-chan map[string]any, msg string) map[string]any {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("the log ended before %q", msg)
			}
			if m["msg"] == msg {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q in the log", msg)
		}
	}
}

// TestRunOverAFullBuffer starts the forwarder (--no-kube) on a buffer
// holding more than --buffer-max-bytes: it must drop and count the oldest
// events while opening, then serve and forward.
func TestRunOverAFullBuffer(t *testing.T) {
	cleanEnv(t)
	dir := t.TempDir()
	buf, err := buffer.Open(filepath.Join(dir, "events"), buffer.Options{MaxBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"involvedObject":{"kind":"GitRepository","namespace":"flux-system","name":"r%d"},"message":"` + strings.Repeat("x", 100<<10) + `"}`
	for i := range 20 { // 2 MiB
		if err := buf.Append(context.Background(), fmt.Sprintf("k%d", i), []byte(fmt.Sprintf(body, i)), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := buf.Close(); err != nil {
		t.Fatal(err)
	}

	newest := make(chan struct{})
	var once sync.Once
	herald := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			InvolvedObject struct{ Name string } `json:"involvedObject"`
		}
		_ = json.NewDecoder(r.Body).Decode(&ev)
		if ev.InvolvedObject.Name == "r19" {
			once.Do(func() { close(newest) })
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer herald.Close()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0ken"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(herald.URL + "/")
	cfg := Config{
		Addr: "127.0.0.1:0", HeraldURL: u, Cluster: "prod", TokenFile: token, BufferDir: dir,
		BufferMaxBytes: 1 << 20, NoKube: true, PollInterval: time.Second, RetryMaxDelay: time.Second,
		SendWorkers: 2, ShutdownGrace: 5 * time.Second, LogLevel: "info",
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

	waitLog(t, lines, "event dropped: the buffer is full")
	addr := waitLog(t, lines, "forwarder listening")["addr"].(string)
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), `herald_forwarder_events_dropped_total{reason="buffer_full"} `) ||
		strings.Contains(string(metrics), `herald_forwarder_events_dropped_total{reason="buffer_full"} 0`) {
		t.Fatalf("the drops while opening were not counted:\n%s", metrics)
	}
	// The newest buffered event survives the bound and reaches Herald.
	select {
	case <-newest:
	case <-time.After(30 * time.Second):
		t.Fatal("the newest buffered event was not forwarded")
	}
}
