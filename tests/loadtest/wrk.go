package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// wrkScript makes every request a unique Flux event and spreads the events
// over the namespaces and object names of the generated config, so that each
// event matches exactly one Alert and none is a duplicate. Its arguments:
// run id, timestamp, number of namespaces, objects per namespace. done()
// prints one machine-readable line with wrk's exact counters.
const wrkScript = `
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
local run, ts, namespaces, objects

function init(args)
  run = args[1]
  ts = args[2]
  namespaces = tonumber(args[3])
  objects = tonumber(args[4])
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  local i = counter
  counter = counter + 1
  local ns = i % namespaces
  local obj = math.floor(i / namespaces) % objects
  local body = string.format(
    '{"involvedObject":{"kind":"Kustomization","namespace":"load-%04d","name":"app-%02d",' ..
    '"uid":"8a3c0f7e-5b7d-4d8e-9a4b-%012d","apiVersion":"kustomize.toolkit.fluxcd.io/v1","resourceVersion":"%d"},' ..
    '"severity":"info","timestamp":"%s","message":"Reconciliation finished in 1.5s, run %s thread %d event %d",' ..
    '"reason":"ReconciliationSucceeded","metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07",' ..
    '"kustomize.toolkit.fluxcd.io/token":"%s-%d-%d"},"reportingController":"kustomize-controller","reportingInstance":"loadtest"}',
    ns, obj, i, i, ts, run, tid, i, run, tid, i)
  return wrk.format(nil, "/", nil, body)
end

function done(summary, latency, requests)
  io.write(string.format(
    'LOADTEST_RESULT {"requests":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max))
end
`

// wrkResult is what one wrk run measured.
type wrkResult struct {
	// From wrk's text report.
	RequestsPerSec float64
	P99            time.Duration
	// From the script's done() line.
	Requests      int64 `json:"requests"`
	StatusErrors  int64 `json:"status_errors"` // non-2xx/3xx answers
	ConnectErrors int64 `json:"connect_errors"`
	ReadErrors    int64 `json:"read_errors"`
	WriteErrors   int64 `json:"write_errors"`
	Timeouts      int64 `json:"timeouts"`
	DurationUS    int64 `json:"duration_us"`
	P50US         int64 `json:"p50_us"`
	P99US         int64 `json:"p99_us"`
	MaxUS         int64 `json:"max_us"`
	// CPU is the CPU time wrk itself used.
	CPU time.Duration `json:"-"`
}

// Accepted is the number of requests answered 2xx (herald answers 202).
func (r wrkResult) Accepted() int64 { return r.Requests - r.StatusErrors }

// AcceptedPerSec is the accepted rate over wrk's measured duration.
func (r wrkResult) AcceptedPerSec() float64 {
	if r.DurationUS == 0 {
		return 0
	}
	return float64(r.Accepted()) / (float64(r.DurationUS) / 1e6)
}

// SocketErrors sums wrk's transport errors.
func (r wrkResult) SocketErrors() int64 {
	return r.ConnectErrors + r.ReadErrors + r.WriteErrors + r.Timeouts
}

// wrkRun describes one invocation of wrk.
type wrkRun struct {
	URL         string
	Script      string // path of the Lua script
	Threads     int
	Connections int
	Duration    time.Duration
	RunID       string
	Namespaces  int
	Objects     int
}

func (w wrkRun) args() []string {
	return []string{
		"-t" + strconv.Itoa(w.Threads),
		"-c" + strconv.Itoa(w.Connections),
		"-d" + strconv.Itoa(int(w.Duration.Seconds())) + "s",
		"--latency",
		"-s", w.Script,
		w.URL,
		"--", w.RunID, time.Now().UTC().Format(time.RFC3339),
		strconv.Itoa(w.Namespaces), strconv.Itoa(w.Objects),
	}
}

// run executes wrk and parses its report; the raw report is returned too.
func (w wrkRun) run(ctx context.Context) (wrkResult, string, error) {
	ctx, cancel := context.WithTimeout(ctx, w.Duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", w.args()...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, out.String(), fmt.Errorf("wrk %s: %w\n%s", strings.Join(w.args(), " "), err, out.String())
	}
	res, err := parseWrk(out.String())
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, out.String(), err
}

// parseWrk reads wrk's --latency text report and the script's result line.
func parseWrk(report string) (wrkResult, error) {
	var res wrkResult
	var haveRPS, haveP99, haveLine bool
	sc := bufio.NewScanner(strings.NewReader(report))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Requests/sec:"):
			v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(line, "Requests/sec:")), 64)
			if err != nil {
				return res, fmt.Errorf("wrk report: %q: %w", line, err)
			}
			res.RequestsPerSec, haveRPS = v, true
		case strings.HasPrefix(line, "99%"):
			d, err := parseWrkDuration(strings.TrimSpace(strings.TrimPrefix(line, "99%")))
			if err != nil {
				return res, fmt.Errorf("wrk report: %q: %w", line, err)
			}
			res.P99, haveP99 = d, true
		case strings.HasPrefix(line, "LOADTEST_RESULT "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "LOADTEST_RESULT ")), &res); err != nil {
				return res, fmt.Errorf("wrk script result: %q: %w", line, err)
			}
			haveLine = true
		}
	}
	if !haveRPS || !haveP99 || !haveLine {
		return res, errors.New("wrk report lacks Requests/sec, the 99% latency or the script's result line:\n" + report)
	}
	return res, nil
}

// parseWrkDuration parses wrk's latency figures: 812.00us, 1.23ms, 2.01s, 1.00m.
func parseWrkDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"us", time.Microsecond}, {"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}}
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, err
			}
			return time.Duration(math.Round(v * float64(u.unit))), nil
		}
	}
	return 0, fmt.Errorf("unknown duration %q", s)
}

// writeScript puts the Lua script into dir.
func writeScript(dir string) (string, error) {
	path := dir + "/events.lua"
	return path, os.WriteFile(path, []byte(wrkScript), 0o644)
}
