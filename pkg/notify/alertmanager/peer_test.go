package alertmanager_test

import (
	"context"
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/alertmanager"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// amConfig routes every alert to a receiver that sends nothing.
const amConfig = `route:
  receiver: "null"
receivers:
  - name: "null"
`

// TestRealAlertmanager delivers an error event to Prometheus Alertmanager
// (Debian's prometheus-alertmanager, 0.25) and reads the alert back through
// its v2 API: the payload Flux sends must be one Alertmanager accepts and
// stores as intended, zero endsAt included. CI installs the package; the
// test fails rather than skips without it, so that it cannot silently stop
// running.
func TestRealAlertmanager(t *testing.T) {
	bin, err := exec.LookPath("prometheus-alertmanager")
	if err != nil {
		t.Fatal("prometheus-alertmanager not found: apt-get install prometheus-alertmanager")
	}
	base := startAlertmanager(t, bin)

	ev := notifytest.ReferenceEvent(event.SeverityError, false)
	ev.Reason = "HealthCheckFailed"
	ev.Message = "Health check failed after 30s: timeout waiting for: [Deployment/apps/podinfo status: 'InProgress']"
	ev.Metadata = map[string]string{"revision": notifytest.Revision, "summary": "cluster-1 is degraded"}

	n, err := alertmanager.New(notify.Config{Address: notify.Secret(base + "/api/v2/alerts")})
	if err != nil {
		t.Fatal(err)
	}
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}

	wantLabels := map[string]string{
		"alertname":           "FluxKustomizationHealthcheckfailed",
		"severity":            "error",
		"reason":              "HealthCheckFailed",
		"kind":                "Kustomization",
		"name":                "podinfo",
		"namespace":           "flux-system",
		"reportingcontroller": "kustomize-controller",
		"revision":            notifytest.Revision,
	}
	wantAnnotations := map[string]string{"message": ev.Message, "summary": "cluster-1 is degraded"}

	// The API marks an alert active when it is listed; poll briefly in case
	// a slower Alertmanager has not stored it yet.
	var got []gettableAlert
	deadline := time.Now().Add(5 * time.Second)
	for {
		got = getAlerts(t, base)
		if len(got) > 0 && got[0].Status.State == "active" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(got) != 1 {
		t.Fatalf("Alertmanager holds %d alerts, want 1: %+v", len(got), got)
	}
	a := got[0]
	if !maps.Equal(a.Labels, wantLabels) {
		t.Errorf("labels = %v\nwant     %v", a.Labels, wantLabels)
	}
	if !maps.Equal(a.Annotations, wantAnnotations) {
		t.Errorf("annotations = %v\nwant          %v", a.Annotations, wantAnnotations)
	}
	if a.Status.State != "active" {
		t.Errorf("status = %+v, want active", a.Status)
	}
	if !a.StartsAt.Equal(ev.Timestamp.Time) {
		t.Errorf("startsAt = %v, want %v", a.StartsAt, ev.Timestamp.Time)
	}
	// The zero endsAt means "unset": Alertmanager resolves the alert after
	// its resolve_timeout (5m by default) unless it is sent again.
	if until := time.Until(a.EndsAt); until <= 0 || until > 6*time.Minute {
		t.Errorf("endsAt = %v, want about 5m from now", a.EndsAt)
	}
	if len(a.Receivers) != 1 || a.Receivers[0].Name != "null" {
		t.Errorf("receivers = %+v", a.Receivers)
	}
}

// gettableAlert is the part of Alertmanager's v2 alert the test checks.
type gettableAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt"`
	EndsAt      time.Time         `json:"endsAt"`
	Status      struct {
		State string `json:"state"`
	} `json:"status"`
	Receivers []struct {
		Name string `json:"name"`
	} `json:"receivers"`
}

func getAlerts(t *testing.T, base string) []gettableAlert {
	t.Helper()
	resp, err := http.Get(base + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/v2/alerts: %s", resp.Status)
	}
	var alerts []gettableAlert
	if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
		t.Fatal(err)
	}
	return alerts
}

// startAlertmanager runs bin on a free loopback port with a fresh config and
// storage, stops it when the test ends, and returns its base URL once
// /-/ready answers.
func startAlertmanager(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(config, []byte(amConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	cmd := exec.Command(bin,
		"--config.file="+config,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--cluster.listen-address=", // no gossip: a single, isolated instance
	)
	var output testlog.Buffer
	cmd.Stdout, cmd.Stderr = &output, &output
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})

	base := "http://" + addr
	deadline := time.After(30 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			t.Fatalf("prometheus-alertmanager exited before it was ready:\n%s", output.String())
		case <-deadline:
			t.Fatalf("prometheus-alertmanager not ready after 30s:\n%s", output.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freePort asks the kernel for a free port. Another process could take it
// before Alertmanager binds it; the readiness wait then fails clearly.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
