package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

// A report of wrk 4.1.0 (Debian) with --latency and the script's done() line.
const sampleReport = `Running 15s test @ http://127.0.0.1:40123/
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.61ms    1.02ms  31.17ms   90.12%
    Req/Sec    12.41k   514.78    13.25k    82.00%
  Latency Distribution
     50%    2.43ms
     75%    2.88ms
     90%    3.42ms
     99%  812.00us
  185312 requests in 15.00s, 14.31MB read
  Non-2xx or 3xx responses: 7
Requests/sec:  12353.91
Transfer/sec:      0.95MB
LOADTEST_RESULT {"requests":185312,"status_errors":7,"connect_errors":0,"read_errors":1,"write_errors":0,"timeouts":2,"duration_us":15000420,"p50_us":2430,"p99_us":812,"max_us":31170}
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(sampleReport)
	if err != nil {
		t.Fatal(err)
	}
	if r.RequestsPerSec != 12353.91 {
		t.Errorf("RequestsPerSec = %v", r.RequestsPerSec)
	}
	if r.P99 != 812*time.Microsecond {
		t.Errorf("P99 = %v", r.P99)
	}
	if r.Requests != 185312 || r.StatusErrors != 7 || r.Accepted() != 185305 || r.SocketErrors() != 3 {
		t.Errorf("counters = %+v", r)
	}
	if rate := r.AcceptedPerSec(); rate < 12353 || rate > 12354 {
		t.Errorf("AcceptedPerSec = %v", rate)
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	if _, err := parseWrk("Running 1s test @ http://x/\nunable to connect to x\n"); err == nil {
		t.Error("want an error for a report without figures")
	}
}

func TestParseWrkDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"812.00us": 812 * time.Microsecond,
		"1.50ms":   1500 * time.Microsecond,
		"2.01s":    2010 * time.Millisecond,
		"1.00m":    time.Minute,
	} {
		got, err := parseWrkDuration(in)
		if err != nil || got != want {
			t.Errorf("parseWrkDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWrkDuration("12parsecs"); err == nil {
		t.Error("want an error for an unknown unit")
	}
}

func TestGenerateConfigMatchesEachEventOnce(t *testing.T) {
	cfg := generateConfig(scenario{Namespaces: 3, Objects: 4}, "http://127.0.0.1:1")
	if len(cfg.Providers) != 3 || len(cfg.Alerts) != 12 {
		t.Fatalf("%d providers, %d alerts", len(cfg.Providers), len(cfg.Alerts))
	}
	seen := map[string]bool{}
	for _, a := range cfg.Alerts {
		if len(a.EventSources) != 1 || a.EventSources[0].Name == "*" {
			t.Fatalf("alert %s/%s selects %+v", a.Namespace, a.Name, a.EventSources)
		}
		key := a.Namespace + "/" + a.EventSources[0].Name
		if seen[key] {
			t.Fatalf("two alerts select %s", key)
		}
		seen[key] = true
	}
}

func TestProcReaders(t *testing.T) {
	pid := os.Getpid()
	if hwm, err := vmHWM(pid); err != nil || hwm <= 0 {
		t.Errorf("vmHWM = %d, %v", hwm, err)
	}
	if _, err := countSockets(pid); err != nil {
		t.Error(err)
	}
	if _, err := cpuTime(pid); err != nil {
		t.Error(err)
	}
	if m, err := readMachineCPU(); err != nil || m.Busy <= 0 {
		t.Errorf("readMachineCPU = %+v, %v", m, err)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP herald_events_received_total Events received.
# TYPE herald_events_received_total counter
herald_events_received_total 12
herald_events_duplicate_total 2
herald_deliveries_total{outcome="ok",type="generic"} 7
herald_deliveries_total{outcome="retry",type="generic"} 3
herald_ingest_seconds_bucket{code="202",le="+Inf"} 10
go_goroutines 12
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m["herald_deliveries_total"] != 10 || m["herald_events_received_total"] != 12 || m["go_goroutines"] != 0 {
		t.Errorf("parsed %v", m)
	}
	before := map[string]float64{"herald_events_received_total": 2}
	if got := heraldAccepted(before, m); got != 8 {
		t.Errorf("heraldAccepted = %d, want 8", got)
	}
	if got := heraldAccepted(nil, map[string]float64{}); got != -1 {
		t.Errorf("heraldAccepted without counters = %d, want -1", got)
	}
}
