// Command loadtest measures `herald serve` under load with wrk: the accepted
// event rate, the ingest latency, that every accepted event is delivered,
// herald's peak memory and its open sockets. It exits non-zero when a target
// is missed. Run it from tests/ with `go run ./loadtest` (make loadtest);
// `go run ./loadtest forwarder` measures the forwarder (forwarder.go).
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
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/heraldhq/herald/tests/internal/harness"
)

const mib = 1 << 20

// scenario is one configuration size and its targets.
type scenario struct {
	Name       string
	Namespaces int
	Objects    int // Alerts (and Kustomizations) per namespace
	MinRate    float64
	MaxP99     time.Duration // 0: no latency target
}

func (s scenario) Alerts() int { return s.Namespaces * s.Objects }

var scenarios = []scenario{
	{Name: "A", Namespaces: 10, Objects: 10, MinRate: 10000, MaxP99: 20 * time.Millisecond},
	{Name: "B", Namespaces: 1000, Objects: 10, MinRate: 5000},
}

// Targets every scenario must meet.
const (
	maxPeakRSS = 128 * mib
	maxSockets = 200
)

type options struct {
	only        string
	duration    time.Duration
	warmup      time.Duration
	connections int
	threads     int
	keep        bool
	heraldArgs  string
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "forwarder" {
		// The forwarder's figures: go run ./loadtest forwarder [flags].
		os.Exit(forwarderMain(os.Args[2:]))
	}
	var o options
	flag.StringVar(&o.only, "scenario", "", "run only this scenario (A or B)")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "measured wrk run per scenario")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "wrk warm-up run before the measured one")
	flag.IntVar(&o.connections, "connections", 32, "wrk connections")
	flag.IntVar(&o.threads, "threads", 1, "wrk threads")
	flag.BoolVar(&o.keep, "keep", false, "keep the work folder (config, herald's log)")
	flag.StringVar(&o.heraldArgs, "herald-args", "", "extra arguments for herald serve, space-separated (e.g. \"--log-level warn\")")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New("wrk is not installed; install it with `apt-get install -y wrk` (Debian) or run .ci/loadtest")
	}
	work, err := os.MkdirTemp("", "herald-loadtest-")
	if err != nil {
		return err
	}
	if o.keep {
		fmt.Println("work folder:", work)
	} else {
		defer os.RemoveAll(work)
	}
	fmt.Println("building herald ...")
	bin, err := harness.HeraldBinary(work)
	if err != nil {
		return err
	}
	script, err := writeScript(work)
	if err != nil {
		return err
	}

	var results []result
	for _, sc := range scenarios {
		if o.only != "" && !strings.EqualFold(o.only, sc.Name) {
			continue
		}
		r, err := runScenario(o, sc, bin, script, filepath.Join(work, sc.Name))
		if err != nil {
			return fmt.Errorf("scenario %s: %w", sc.Name, err)
		}
		results = append(results, r)
	}
	if len(results) == 0 {
		return fmt.Errorf("no scenario named %q", o.only)
	}
	printTable(os.Stdout, results)
	failed := 0
	for _, r := range results {
		failed += len(r.Misses)
	}
	if failed > 0 {
		return fmt.Errorf("%d target(s) missed", failed)
	}
	fmt.Println("all targets met")
	return nil
}

// result is what a scenario measured, and the targets it missed.
type result struct {
	Scenario  scenario
	Wrk       wrkResult
	Delivered int64 // deliveries of the measured run's events
	// HeraldAccepted is herald's own count of accepted events during the
	// run (from /metrics), or -1 when it exposes none.
	HeraldAccepted int64
	Drain          time.Duration
	PeakRSS        int64
	Sockets        int
	CPU            time.Duration // herald's CPU time during the measured run
	// DiskWritten is what herald wrote to storage during the measured run
	// and its drain, or -1 when /proc does not say.
	DiskWritten int64
	SinkCPU     time.Duration // this process's (the sink's) CPU time then
	Machine     machineCPU    // the whole machine's CPU time then
	Misses      []string
}

func runScenario(o options, sc scenario, bin, script, dir string) (result, error) {
	res := result{Scenario: sc}
	fmt.Printf("\n== scenario %s: %d Alerts in %d namespaces ==\n", sc.Name, sc.Alerts(), sc.Namespaces)

	sink, err := startSink()
	if err != nil {
		return res, err
	}
	defer sink.Close()

	cfgDir := filepath.Join(dir, "config")
	if err := generateConfig(sc, sink.URL).Write(cfgDir); err != nil {
		return res, err
	}
	logPath := filepath.Join(dir, "herald.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return res, err
	}
	defer logFile.Close()

	started := time.Now()
	herald, err := harness.Start(bin, cfgDir, harness.Options{
		// Every event is unique, so the window never refuses one; 5m is
		// Flux's default and keeps the de-duplication state realistic.
		Args:         append([]string{"--rate-limit-interval", "5m"}, strings.Fields(o.heraldArgs)...),
		ReadyTimeout: 2 * time.Minute,
		Output:       logFile,
	})
	if err != nil {
		return res, fmt.Errorf("%w\nherald's log:\n%s", err, tail(logPath, 30))
	}
	defer func() {
		if err := herald.Stop(); err != nil {
			fmt.Println("  stopping herald:", err)
		}
	}()
	fmt.Printf("  herald ready in %s (pid %d)\n", time.Since(started).Round(time.Millisecond), herald.PID())
	stats := sampleProcess(herald.PID(), 100*time.Millisecond)

	ctx := context.Background()
	base := wrkRun{
		URL: herald.URL + "/", Script: script, Threads: o.threads, Connections: o.connections,
		Namespaces: sc.Namespaces, Objects: sc.Objects,
	}

	// Warm up, then let the deliveries of the warm-up drain, so that the
	// measured run starts from a steady, empty queue.
	if o.warmup > 0 {
		warm := base
		warm.Duration, warm.RunID = o.warmup, "warmup-"+sc.Name
		wr, _, err := warm.run(ctx)
		if err != nil {
			return res, err
		}
		_, waited := sink.waitForCount(wr.Accepted(), 5*time.Second, time.Minute)
		n := sink.waitQuiet(500*time.Millisecond, 10*time.Second)
		fmt.Printf("  warm-up: %d accepted (%.0f/s), %d delivered after %s\n", wr.Accepted(), wr.AcceptedPerSec(), n, waited.Round(time.Millisecond))
	}
	before := sink.Count()
	cpuBefore, _ := cpuTime(herald.PID())
	writtenBefore, writtenErr := writtenBytes(herald.PID())
	selfBefore, _ := cpuTime(os.Getpid())
	machineBefore, _ := readMachineCPU()
	metricsBefore, err := scrape(herald.URL)
	if err != nil {
		return res, err
	}

	measured := base
	measured.Duration, measured.RunID = o.duration, "run-"+sc.Name
	fmt.Printf("  wrk %s\n", strings.Join(measured.args(), " "))
	wr, report, err := measured.run(ctx)
	if err != nil {
		return res, err
	}
	cpuAfter, _ := cpuTime(herald.PID())
	selfAfter, _ := cpuTime(os.Getpid())
	machineAfter, _ := readMachineCPU()
	fmt.Println(indent(report))
	res.Wrk = wr
	res.CPU = cpuAfter - cpuBefore
	res.SinkCPU = selfAfter - selfBefore
	res.Machine = machineAfter.sub(machineBefore)

	// Every accepted event must reach the sink. wrk does not count requests
	// still in flight when it stops, which herald may have accepted too:
	// herald's own counters, when it has them, say exactly how many.
	_, waited := sink.waitForCount(before+wr.Accepted(), 10*time.Second, 2*time.Minute)
	// Let deliveries of requests in flight at the end arrive, then count.
	n := sink.waitQuiet(500*time.Millisecond, 10*time.Second)
	res.Delivered, res.Drain = n-before, waited
	res.DiskWritten = -1
	if writtenAfter, err := writtenBytes(herald.PID()); err == nil && writtenErr == nil {
		res.DiskWritten = writtenAfter - writtenBefore
	}
	if metricsAfter, err := scrape(herald.URL); err == nil {
		res.HeraldAccepted = heraldAccepted(metricsBefore, metricsAfter)
		fmt.Println(indent(formatMetrics(metricsAfter)))
	} else {
		res.Misses = append(res.Misses, "reading /metrics after the run: "+err.Error())
	}
	res.PeakRSS, res.Sockets = stats.Stop()
	if herald.Exited() {
		res.Misses = append(res.Misses, "herald exited during the run; log:\n"+tail(logPath, 30))
	}

	res.Misses = append(res.Misses, check(sc, res, o.connections)...)
	return res, nil
}

// check compares a result with the targets and returns what was missed.
func check(sc scenario, r result, connections int) []string {
	var miss []string
	if rate := r.Wrk.AcceptedPerSec(); rate < sc.MinRate {
		miss = append(miss, fmt.Sprintf("accepted %.0f events/s, target >= %.0f", rate, sc.MinRate))
	}
	if sc.MaxP99 > 0 && r.Wrk.P99 >= sc.MaxP99 {
		miss = append(miss, fmt.Sprintf("p99 %s, target < %s", r.Wrk.P99, sc.MaxP99))
	}
	if r.Wrk.StatusErrors > 0 {
		miss = append(miss, fmt.Sprintf("%d of %d events not accepted (non-2xx answers)", r.Wrk.StatusErrors, r.Wrk.Requests))
	}
	if e := r.Wrk.SocketErrors(); e > 0 {
		miss = append(miss, fmt.Sprintf("%d socket errors or timeouts in wrk", e))
	}
	if r.Delivered < r.Wrk.Accepted() {
		miss = append(miss, fmt.Sprintf("%d accepted events not delivered (%d accepted, %d delivered)", r.Wrk.Accepted()-r.Delivered, r.Wrk.Accepted(), r.Delivered))
	}
	if r.HeraldAccepted >= 0 {
		// Exact: herald's count includes requests wrk abandoned in flight.
		if r.Delivered != r.HeraldAccepted {
			miss = append(miss, fmt.Sprintf("herald counted %d accepted events, the sink received %d deliveries", r.HeraldAccepted, r.Delivered))
		}
		if r.HeraldAccepted < r.Wrk.Accepted() || r.HeraldAccepted > r.Wrk.Accepted()+int64(connections) {
			miss = append(miss, fmt.Sprintf("herald counted %d accepted events, wrk %d (at most %d in flight)", r.HeraldAccepted, r.Wrk.Accepted(), connections))
		}
	} else if extra := r.Delivered - r.Wrk.Accepted(); extra > int64(connections) {
		miss = append(miss, fmt.Sprintf("%d more deliveries than accepted events: duplicates", extra))
	}
	if r.PeakRSS >= maxPeakRSS {
		miss = append(miss, fmt.Sprintf("peak RSS %s, target < %s", humanBytes(r.PeakRSS), humanBytes(maxPeakRSS)))
	}
	if r.Sockets >= maxSockets {
		miss = append(miss, fmt.Sprintf("%d open sockets, target < %d", r.Sockets, maxSockets))
	}
	return miss
}

func printTable(w io.Writer, results []result) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tAlerts\taccepted/s\ttarget\tp50\tp99\ttarget\tnon-2xx\taccepted (wrk/herald)\tdelivered\tdrain\therald CPU\tpeak RSS\tsockets\tresult\t")
	for _, r := range results {
		p99Target := "-"
		if r.Scenario.MaxP99 > 0 {
			p99Target = "<" + r.Scenario.MaxP99.String()
		}
		verdict := "PASS"
		if len(r.Misses) > 0 {
			verdict = "FAIL"
		}
		herald := "-"
		if r.HeraldAccepted >= 0 {
			herald = fmt.Sprint(r.HeraldAccepted)
		}
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t>=%.0f\t%s\t%s\t%s\t%d\t%d/%s\t%d\t%s\t%.2f cores\t%s\t%d\t%s\t\n",
			r.Scenario.Name, r.Scenario.Alerts(), r.Wrk.AcceptedPerSec(), r.Scenario.MinRate,
			time.Duration(r.Wrk.P50US)*time.Microsecond, r.Wrk.P99, p99Target,
			r.Wrk.StatusErrors, r.Wrk.Accepted(), herald, r.Delivered, r.Drain.Round(time.Millisecond),
			r.CPU.Seconds()/(float64(r.Wrk.DurationUS)/1e6), humanBytes(r.PeakRSS), r.Sockets, verdict)
	}
	tw.Flush()
	for _, r := range results {
		secs := float64(r.Wrk.DurationUS) / 1e6
		cores := func(d time.Duration) float64 { return d.Seconds() / secs }
		other := r.Machine.Busy - r.Machine.SoftIRQ - r.CPU - r.Wrk.CPU - r.SinkCPU
		fmt.Fprintf(w, "CPU during %s, in cores of %d: herald %.2f, wrk %.2f, sink and harness %.2f, kernel irq/softirq %.2f, other processes %.2f\n",
			r.Scenario.Name, runtime.NumCPU(), cores(r.CPU), cores(r.Wrk.CPU), cores(r.SinkCPU), cores(r.Machine.SoftIRQ), cores(max(other, 0)))
		if cores(other) > 0.2 {
			fmt.Fprintf(w, "WARNING: other processes used %.2f cores during %s: its figures understate herald; rerun on a quiet machine\n", cores(other), r.Scenario.Name)
		}
	}
	for _, r := range results {
		if r.DiskWritten >= 0 && r.Wrk.Accepted() > 0 {
			fmt.Fprintf(w, "disk written by herald during %s and its drain: %s, %.0f bytes per accepted event\n",
				r.Scenario.Name, humanBytes(r.DiskWritten), float64(r.DiskWritten)/float64(r.Wrk.Accepted()))
		}
	}
	fmt.Fprintf(w, "targets: peak RSS < %s, sockets < %d, every accepted event delivered, no errors\n", humanBytes(maxPeakRSS), maxSockets)
	for _, r := range results {
		for _, m := range r.Misses {
			fmt.Fprintf(w, "MISSED %s: %s\n", r.Scenario.Name, m)
		}
	}
}

// generateConfig writes, per namespace, one generic Provider posting to the
// sink and one Alert per object name, so each event matches exactly one Alert.
func generateConfig(sc scenario, sinkURL string) harness.Config {
	var cfg harness.Config
	for i := 0; i < sc.Namespaces; i++ {
		ns := fmt.Sprintf("load-%04d", i)
		cfg.Providers = append(cfg.Providers, harness.Provider{
			Name: "sink", Namespace: ns, Type: "generic", Address: sinkURL + "/" + ns,
		})
		for j := 0; j < sc.Objects; j++ {
			name := fmt.Sprintf("app-%02d", j)
			cfg.Alerts = append(cfg.Alerts, harness.Alert{
				Name: name, Namespace: ns, ProviderRef: "sink",
				EventSources: []harness.EventSource{{Kind: "Kustomization", Name: name}},
			})
		}
	}
	return cfg
}

func formatMetrics(m map[string]float64) string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("herald's /metrics after the run (summed over labels):")
	for _, k := range names {
		fmt.Fprintf(&b, "\n  %s %g", k, m[k])
	}
	return b.String()
}

func humanBytes(n int64) string {
	return fmt.Sprintf("%.1f MiB", float64(n)/mib)
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
