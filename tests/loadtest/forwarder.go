package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// The forwarder's figures (`go run ./loadtest forwarder`, from tests/):
//
//   - relay: wrk posts unique Flux events to the forwarder, which answers
//     202 once each is fsync'd in its buffer, while it sends them on to a
//     herald serve that is up; the accepted rate and the p99 of the 202.
//   - drain: herald is down while wrk fills the buffer, then up again; the
//     rate at which the forwarder empties its buffer into herald serve.
//   - full buffer: herald down, wrk posts until the 256 MiB buffer is full
//     and the oldest are being dropped; the forwarder's peak RSS (VmHWM),
//     then again for a forwarder restarted on that full buffer while it
//     drains it into herald.
//   - the size of the stripped binary.

// The forwarder's targets: relay rate and latency, drain rate, memory.
const (
	fwdMinRelayRate = 2000.0
	fwdMaxRelayP99  = 20 * time.Millisecond
	fwdMinDrainRate = 1000.0
	fwdMaxPeakRSS   = 64 * mib
	fwdCluster      = "loadtest"
)

// forwarderScript is wrkScript for the forwarder: the same unique events
// spread over the generated config's objects, with the message padded by
// the fifth argument's number of bytes, to choose the event size.
const forwarderScript = `
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
local run, ts, namespaces, objects, pad

function init(args)
  run = args[1]
  ts = args[2]
  namespaces = tonumber(args[3])
  objects = tonumber(args[4])
  pad = string.rep("x", tonumber(args[5]))
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
    '"severity":"info","timestamp":"%s","message":"Reconciliation finished in 1.5s, run %s thread %d event %d %s",' ..
    '"reason":"ReconciliationSucceeded","metadata":{"kustomize.toolkit.fluxcd.io/revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07",' ..
    '"kustomize.toolkit.fluxcd.io/token":"%s-%d-%d"},"reportingController":"kustomize-controller","reportingInstance":"loadtest"}',
    ns, obj, i, i, ts, run, tid, i, pad, run, tid, i)
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

type fwdOptions struct {
	duration      time.Duration
	warmup        time.Duration
	drainFill     time.Duration
	connections   int
	threads       int
	bufferBytes   int64
	fillPad       int
	fillMax       time.Duration
	skipFull      bool
	keep          bool
	retryMaxDelay time.Duration
}

// forwarderMain runs the forwarder's load test and returns the exit code.
func forwarderMain(args []string) int {
	fs := flag.NewFlagSet("loadtest forwarder", flag.ContinueOnError)
	var o fwdOptions
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured wrk run of the relay")
	fs.DurationVar(&o.warmup, "warmup", 3*time.Second, "wrk warm-up run before the measured one")
	fs.DurationVar(&o.drainFill, "drain-fill", 10*time.Second, "how long wrk posts while herald is down, before the drain is measured")
	fs.IntVar(&o.connections, "connections", 32, "wrk connections")
	fs.IntVar(&o.threads, "threads", 1, "wrk threads")
	fs.Int64Var(&o.bufferBytes, "buffer-max-bytes", 256<<20, "the forwarder's buffer size for the full-buffer run")
	fs.IntVar(&o.fillPad, "fill-pad", 300, "bytes added to each event's message in the full-buffer run (events are then about 1 KiB in the buffer)")
	fs.DurationVar(&o.fillMax, "fill-max", 10*time.Minute, "give up filling the buffer after this long")
	fs.BoolVar(&o.skipFull, "skip-full", false, "skip the full-buffer run (the slowest)")
	fs.BoolVar(&o.keep, "keep", false, "keep the work folder (config, logs, buffer)")
	fs.DurationVar(&o.retryMaxDelay, "retry-max-delay", 2*time.Second, "the forwarder's --retry-max-delay: how soon it notices herald is back")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := runForwarderLoad(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest forwarder:", err)
		return 1
	}
	return 0
}

// fwdBench holds what the phases share.
type fwdBench struct {
	o          fwdOptions
	work       string
	heraldBin  string
	fwdBin     string
	script     string
	cfgDir     string
	tokensFile string
	tokenFile  string
	sink       *countingSink
	herald     *harness.Process
	heraldAddr string
	logs       io.Writer
	misses     []string
	rows       [][2]string
}

func (b *fwdBench) miss(format string, a ...any) {
	b.misses = append(b.misses, fmt.Sprintf(format, a...))
}
func (b *fwdBench) row(name, value string) { b.rows = append(b.rows, [2]string{name, value}) }

func runForwarderLoad(o fwdOptions) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed; install it with `apt-get install -y wrk` (Debian)")
	}
	// The buffer must be on a real disk for fsync to cost what it costs;
	// check the temporary directory's file system with df -T.
	work, err := os.MkdirTemp("", "herald-loadtest-forwarder-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	b := &fwdBench{o: o, work: work}

	fmt.Println("building herald and the forwarder (stripped) ...")
	if b.heraldBin, err = harness.HeraldBinary(work); err != nil {
		return err
	}
	if b.fwdBin, err = harness.BuildForwarder(work, true); err != nil {
		return err
	}
	if env := os.Getenv(harness.ForwarderBinaryEnv); env != "" {
		fmt.Printf("note: %s is ignored here; the figures are for the stripped build of this tree\n", harness.ForwarderBinaryEnv)
	}
	st, err := os.Stat(b.fwdBin)
	if err != nil {
		return err
	}
	b.row("binary size (stripped, -trimpath, CGO_ENABLED=0)", fmt.Sprintf("%d bytes (%.1f MiB)", st.Size(), float64(st.Size())/mib))

	b.script = filepath.Join(work, "forwarder.lua")
	if err := os.WriteFile(b.script, []byte(forwarderScript), 0o644); err != nil {
		return err
	}
	b.tokensFile = filepath.Join(work, "cluster-tokens.yaml")
	b.tokenFile = filepath.Join(work, "token")
	token := "loadtest-token-9f2c4e61"
	if err := os.WriteFile(b.tokensFile, []byte(fwdCluster+": "+token+"\n"), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(b.tokenFile, []byte(token+"\n"), 0o600); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(work, "processes.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	b.logs = logFile

	b.sink, err = startSink()
	if err != nil {
		return err
	}
	defer b.sink.Close()
	b.cfgDir = filepath.Join(work, "config")
	if err := generateConfig(scenario{Namespaces: 10, Objects: 10}, b.sink.URL).Write(b.cfgDir); err != nil {
		return err
	}
	addr, err := harness.FreeAddr()
	if err != nil {
		return err
	}
	b.heraldAddr = addr
	if err := b.heraldUp(); err != nil {
		return err
	}
	defer b.heraldDown()

	if err := b.relay(); err != nil {
		return fmt.Errorf("relay: %w", err)
	}
	if err := b.drain(); err != nil {
		return fmt.Errorf("drain: %w", err)
	}
	if !o.skipFull {
		if err := b.full(); err != nil {
			return fmt.Errorf("full buffer: %w", err)
		}
	}

	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "forwarder figure\tmeasured")
	for _, r := range b.rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	tw.Flush()
	fmt.Printf("targets: relay >= %.0f events/s with p99 < %s; drain >= %.0f events/s; peak RSS < %s with a full %s buffer\n",
		fwdMinRelayRate, fwdMaxRelayP99, fwdMinDrainRate, humanBytes(fwdMaxPeakRSS), humanBytes(o.bufferBytes))
	for _, m := range b.misses {
		fmt.Println("MISSED:", m)
	}
	if len(b.misses) > 0 {
		return fmt.Errorf("%d target(s) missed", len(b.misses))
	}
	fmt.Println("all forwarder targets met")
	return nil
}

func (b *fwdBench) heraldUp() error {
	p, err := harness.StartAt(b.heraldBin, b.cfgDir, b.heraldAddr, harness.Options{
		Args:         []string{"--cluster-tokens", b.tokensFile, "--rate-limit-interval", "5m", "--log-level", "warn"},
		ReadyTimeout: time.Minute,
		Output:       b.logs,
	})
	if err != nil {
		return err
	}
	b.herald = p
	return nil
}

func (b *fwdBench) heraldDown() {
	if b.herald == nil {
		return
	}
	if err := b.herald.Stop(); err != nil {
		fmt.Println("  stopping herald:", err)
	}
	b.herald = nil
}

func (b *fwdBench) startForwarder(bufferDir string, maxBytes int64) (*harness.Forwarder, error) {
	return harness.StartForwarder(b.fwdBin, harness.ForwarderOptions{
		HeraldURL:      "http://" + b.heraldAddr + "/",
		Cluster:        fwdCluster,
		TokenFile:      b.tokenFile,
		BufferDir:      bufferDir,
		BufferMaxBytes: maxBytes,
		RetryMaxDelay:  b.o.retryMaxDelay,
		// Warnings only: a warning per event that failed its first try is
		// what it logs during an outage; info lines are per start and stop.
		Args:         []string{"--log-level", "warn"},
		ReadyTimeout: time.Minute,
		Output:       b.logs,
	})
}

// wrk runs wrk against the forwarder with the forwarder script.
func (b *fwdBench) wrk(url string, d time.Duration, runID string, pad int) (wrkResult, string, error) {
	args := []string{
		"-t" + strconv.Itoa(b.o.threads), "-c" + strconv.Itoa(b.o.connections),
		"-d" + strconv.Itoa(int(d.Seconds())) + "s", "--latency", "-s", b.script, url,
		"--", runID, time.Now().UTC().Format(time.RFC3339), "10", "10", strconv.Itoa(pad),
	}
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "wrk", args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return wrkResult{}, out.String(), fmt.Errorf("wrk %s: %w\n%s", strings.Join(args, " "), err, out.String())
	}
	res, err := parseWrk(out.String())
	res.CPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res, out.String(), err
}

// metric reads one series of the forwarder's /metrics.
func metric(f *harness.Forwarder, series string) (float64, error) {
	m, err := f.Metrics()
	if err != nil {
		return 0, err
	}
	v, ok := m[series]
	if !ok {
		return 0, fmt.Errorf("no %s in the forwarder's /metrics", series)
	}
	return v, nil
}

const (
	seriesReceived  = `herald_forwarder_events_received_total{source="relay"}`
	seriesForwarded = "herald_forwarder_events_forwarded_total"
	seriesBuffered  = "herald_forwarder_buffer_events"
	seriesBufBytes  = "herald_forwarder_buffer_bytes"
	seriesDropped   = `herald_forwarder_events_dropped_total{reason="buffer_full"}`
)

// waitReceived waits until the forwarder's count of received events has
// not moved for a while: wrk stops with requests in flight, which the
// forwarder may still take after wrk has reported.
func waitReceived(f *harness.Forwarder) error {
	last, err := metric(f, seriesReceived)
	if err != nil {
		return err
	}
	still := time.Now()
	for start := time.Now(); time.Since(still) < 500*time.Millisecond; {
		if time.Since(start) > time.Minute {
			return errors.New("the forwarder kept receiving events after wrk stopped")
		}
		time.Sleep(50 * time.Millisecond)
		n, err := metric(f, seriesReceived)
		if err != nil {
			return err
		}
		if n != last {
			last, still = n, time.Now()
		}
	}
	return nil
}

// waitEmpty polls until the forwarder's buffer is empty; it returns when
// the forwarded count first moved and when the buffer was empty.
func waitEmpty(f *harness.Forwarder, timeout time.Duration) (first, empty time.Time, err error) {
	start := time.Now()
	before, err := metric(f, seriesForwarded)
	if err != nil {
		return first, empty, err
	}
	for time.Since(start) < timeout {
		m, err := f.Metrics()
		if err != nil {
			return first, empty, err
		}
		now := time.Now()
		if first.IsZero() && m[seriesForwarded] > before {
			first = now
		}
		if m[seriesBuffered] == 0 {
			if first.IsZero() {
				first = now
			}
			return first, now, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return first, empty, fmt.Errorf("the buffer did not empty within %s", timeout)
}

// relay measures the 202 rate and latency with herald up.
func (b *fwdBench) relay() error {
	fmt.Println("\n== relay: wrk -> forwarder (fsync'd buffer) -> herald serve (up) ==")
	f, err := b.startForwarder(filepath.Join(b.work, "buffer-relay"), 0)
	if err != nil {
		return err
	}
	defer f.Stop(30 * time.Second)
	stats := sampleProcess(f.PID(), 100*time.Millisecond)
	if b.o.warmup > 0 {
		wr, _, err := b.wrk(f.URL+"/", b.o.warmup, "fwd-warmup", 0)
		if err != nil {
			return err
		}
		if _, _, err := waitEmpty(f, 2*time.Minute); err != nil {
			return err
		}
		fmt.Printf("  warm-up: %d accepted (%.0f/s)\n", wr.Accepted(), wr.AcceptedPerSec())
	}
	sinkBefore := b.sink.Count()
	recvBefore, _ := metric(f, seriesReceived)
	cpuBefore, _ := cpuTime(f.PID())
	heraldCPUBefore, _ := cpuTime(b.herald.PID())
	machineBefore, _ := readMachineCPU()
	selfBefore, _ := cpuTime(os.Getpid())
	wr, report, err := b.wrk(f.URL+"/", b.o.duration, "fwd-run", 0)
	if err != nil {
		return err
	}
	cpuAfter, _ := cpuTime(f.PID())
	heraldCPUAfter, _ := cpuTime(b.herald.PID())
	machineAfter, _ := readMachineCPU()
	selfAfter, _ := cpuTime(os.Getpid())
	fmt.Println(indent(report))
	// Every event the forwarder took reaches the sink through herald.
	if err := waitReceived(f); err != nil {
		return err
	}
	_, _, err = waitEmpty(f, 2*time.Minute)
	if err != nil {
		return err
	}
	recvAfter, _ := metric(f, seriesReceived)
	received := int64(recvAfter - recvBefore)
	b.sink.waitForCount(sinkBefore+received, 10*time.Second, 2*time.Minute)
	delivered := b.sink.waitQuiet(500*time.Millisecond, 10*time.Second) - sinkBefore
	peak, _ := stats.Stop()

	secs := float64(wr.DurationUS) / 1e6
	b.row("relay: accepted (202) events/s, wrk -c"+strconv.Itoa(b.o.connections), fmt.Sprintf("%.0f (target >= %.0f)", wr.AcceptedPerSec(), fwdMinRelayRate))
	b.row("relay: latency of the 202, p50 / p99 / max", fmt.Sprintf("%s / %s / %s (p99 target < %s)",
		time.Duration(wr.P50US)*time.Microsecond, time.Duration(wr.P99US)*time.Microsecond, time.Duration(wr.MaxUS)*time.Microsecond, fwdMaxRelayP99))
	b.row("relay: CPU, in cores (forwarder / herald / wrk / machine busy)", fmt.Sprintf("%.2f / %.2f / %.2f / %.2f",
		(cpuAfter-cpuBefore).Seconds()/secs, (heraldCPUAfter-heraldCPUBefore).Seconds()/secs, wr.CPU.Seconds()/secs,
		machineAfter.sub(machineBefore).Busy.Seconds()/secs))
	// The 202's latency is queueing for two cores shared by the forwarder,
	// herald and wrk: anything else running skews it.
	machine := machineAfter.sub(machineBefore)
	other := machine.Busy - machine.SoftIRQ - (cpuAfter - cpuBefore) - (heraldCPUAfter - heraldCPUBefore) - wr.CPU - (selfAfter - selfBefore)
	b.row("relay: CPU of other processes, in cores", fmt.Sprintf("%.2f", max(other.Seconds(), 0)/secs))
	if other.Seconds()/secs > 0.2 {
		fmt.Printf("WARNING: other processes used %.2f cores during the relay run: its rate and latency understate the forwarder; rerun on a quiet machine\n", other.Seconds()/secs)
	}
	b.row("relay: forwarder peak RSS", humanBytes(peak))
	b.row("relay: accepted by wrk / by the forwarder / delivered to the sink", fmt.Sprintf("%d / %d / %d", wr.Accepted(), received, delivered))
	if wr.AcceptedPerSec() < fwdMinRelayRate {
		b.miss("relay: %.0f events/s, target >= %.0f", wr.AcceptedPerSec(), fwdMinRelayRate)
	}
	if time.Duration(wr.P99US)*time.Microsecond >= fwdMaxRelayP99 {
		b.miss("relay: p99 %s, target < %s", time.Duration(wr.P99US)*time.Microsecond, fwdMaxRelayP99)
	}
	if wr.StatusErrors > 0 || wr.SocketErrors() > 0 {
		b.miss("relay: %d non-2xx answers, %d socket errors", wr.StatusErrors, wr.SocketErrors())
	}
	if delivered != received {
		b.miss("relay: the forwarder took %d events, the sink received %d", received, delivered)
	}
	return nil
}

// drain measures how fast a buffer filled during an outage empties into
// herald serve once it is back.
func (b *fwdBench) drain() error {
	fmt.Println("\n== drain: herald down while wrk posts, then up ==")
	f, err := b.startForwarder(filepath.Join(b.work, "buffer-drain"), 0)
	if err != nil {
		return err
	}
	defer f.Stop(30 * time.Second)
	b.heraldDown()
	wr, _, err := b.wrk(f.URL+"/", b.o.drainFill, "fwd-drain", 0)
	if err != nil {
		return err
	}
	if err := waitReceived(f); err != nil {
		return err
	}
	buffered, err := metric(f, seriesBuffered)
	if err != nil {
		return err
	}
	fmt.Printf("  %d events accepted during the outage (%.0f/s), %.0f buffered\n", wr.Accepted(), wr.AcceptedPerSec(), buffered)
	return b.measureDrain(f, "drain", buffered)
}

// measureDrain brings herald up and times the forwarder emptying its buffer.
func (b *fwdBench) measureDrain(f *harness.Forwarder, name string, buffered float64) error {
	sinkBefore := b.sink.Count()
	cpuBefore, _ := cpuTime(f.PID())
	up := time.Now()
	if err := b.heraldUp(); err != nil {
		return err
	}
	first, empty, err := waitEmpty(f, 15*time.Minute)
	if err != nil {
		return err
	}
	cpuAfter, _ := cpuTime(f.PID())
	b.sink.waitForCount(sinkBefore+int64(buffered), 10*time.Second, 2*time.Minute)
	delivered := b.sink.waitQuiet(500*time.Millisecond, 10*time.Second) - sinkBefore
	took := empty.Sub(first)
	rate := buffered / max(took.Seconds(), 0.001)
	b.row(name+": events drained into herald serve", fmt.Sprintf("%.0f in %s after the first send (%s after herald was started)", buffered, took.Round(time.Millisecond), empty.Sub(up).Round(time.Millisecond)))
	b.row(name+": drain rate, events/s", fmt.Sprintf("%.0f (target >= %.0f); forwarder CPU %.2f cores", rate, fwdMinDrainRate, (cpuAfter-cpuBefore).Seconds()/max(empty.Sub(up).Seconds(), 0.001)))
	b.row(name+": delivered to the sink", fmt.Sprintf("%d", delivered))
	if rate < fwdMinDrainRate {
		b.miss("%s: %.0f events/s, target >= %.0f", name, rate, fwdMinDrainRate)
	}
	if delivered != int64(buffered) {
		b.miss("%s: %.0f events buffered, %d delivered", name, buffered, delivered)
	}
	return nil
}

// full fills a buffer of o.bufferBytes with herald down until the oldest
// are dropped, reads the forwarder's peak RSS, then restarts it on the full
// buffer and drains it, reading the peak RSS again.
func (b *fwdBench) full() error {
	fmt.Printf("\n== full buffer: herald down, wrk fills a %s buffer ==\n", humanBytes(b.o.bufferBytes))
	dir := filepath.Join(b.work, "buffer-full")
	f, err := b.startForwarder(dir, b.o.bufferBytes)
	if err != nil {
		return err
	}
	b.heraldDown()
	start := time.Now()
	var posted int64
	for {
		wr, _, err := b.wrk(f.URL+"/", 10*time.Second, fmt.Sprintf("fwd-full-%d", posted), b.o.fillPad)
		if err != nil {
			f.Stop(30 * time.Second)
			return err
		}
		posted += wr.Accepted()
		dropped, _ := metric(f, seriesDropped)
		bytes, _ := metric(f, seriesBufBytes)
		fmt.Printf("  %s: %d posted (%.0f/s in the last run), buffer %s, %.0f dropped\n",
			time.Since(start).Round(time.Second), posted, wr.AcceptedPerSec(), humanBytes(int64(bytes)), dropped)
		if dropped > 0 {
			break
		}
		if time.Since(start) > b.o.fillMax {
			f.Stop(30 * time.Second)
			return fmt.Errorf("the buffer was not full after %s", b.o.fillMax)
		}
	}
	if err := waitReceived(f); err != nil {
		return err
	}
	m, err := f.Metrics()
	if err != nil {
		return err
	}
	peakFill, err := vmHWM(f.PID())
	if err != nil {
		return err
	}
	if err := f.Stop(30 * time.Second); err != nil {
		return err
	}
	b.row("full: buffer when full", fmt.Sprintf("%.0f events, %s, %.0f dropped (oldest first)", m[seriesBuffered], humanBytes(int64(m[seriesBufBytes])), m[seriesDropped]))
	b.row("full: forwarder peak RSS while filling and dropping", humanBytes(peakFill))

	// A restart on the full buffer reads it back, then drains it.
	started := time.Now()
	f2, err := b.startForwarder(dir, b.o.bufferBytes)
	if err != nil {
		return err
	}
	defer f2.Stop(30 * time.Second)
	b.row("full: restart on the full buffer, ready in", time.Since(started).Round(time.Millisecond).String())
	stats := sampleProcess(f2.PID(), 100*time.Millisecond)
	buffered, err := metric(f2, seriesBuffered)
	if err != nil {
		return err
	}
	err = b.measureDrain(f2, "full drain", buffered)
	peakDrain, _ := stats.Stop()
	b.row("full: restarted forwarder's peak RSS (load and drain)", humanBytes(peakDrain))
	for what, peak := range map[string]int64{"while filling": peakFill, "restarted and draining": peakDrain} {
		if peak >= fwdMaxPeakRSS {
			b.miss("peak RSS %s %s, target < %s", what, humanBytes(peak), humanBytes(fwdMaxPeakRSS))
		}
	}
	return err
}
