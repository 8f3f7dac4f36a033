package emf

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/metrics/emf/emftest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

// clock returns a Now that starts at t0 and moves on by step at each call.
func clock(t0 time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	next := t0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t := next
		next = next.Add(step)
		return t
	}
}

var t0 = time.Date(2024, 5, 1, 12, 0, 0, 123_000_000, time.UTC)

// measurement is one call of the Recorder, and what its line must hold.
type measurement struct {
	record func(metrics.Recorder)
	metric string
	unit   string
	value  float64
	dims   map[string]string // besides function
}

// Every kind of line the dispatch function writes, in the order an ingest
// and the deliveries of its jobs record them.
var measurements = []measurement{
	{func(r metrics.Recorder) { r.EventRejected("unauthenticated") }, EventsRejected, "Count", 1,
		map[string]string{DimReason: "unauthenticated"}},
	{func(r metrics.Recorder) { r.EventReceived() }, EventsReceived, "Count", 1, nil},
	{func(r metrics.Recorder) { r.EventDuplicate() }, EventsDuplicate, "Count", 1, nil},
	{func(r metrics.Recorder) { r.DeliveryAttempt("slack", 182_431*time.Microsecond) }, DeliveryDuration, "Milliseconds", 182.431,
		map[string]string{DimProviderType: "slack"}},
	{func(r metrics.Recorder) { r.DeliveryOutcome("slack", metrics.OutcomeDelivered, "") }, Deliveries, "Count", 1,
		map[string]string{DimProviderType: "slack", DimOutcome: "delivered", DimReason: LabelNone}},
	{func(r metrics.Recorder) { r.DeliveryAttempt("github", 2*time.Second) }, DeliveryDuration, "Milliseconds", 2000,
		map[string]string{DimProviderType: "github"}},
	{func(r metrics.Recorder) { r.DeliveryOutcome("github", metrics.OutcomeRetry, "server_error") }, Deliveries, "Count", 1,
		map[string]string{DimProviderType: "github", DimOutcome: "retry", DimReason: "server_error"}},
	{func(r metrics.Recorder) { r.DeliveryOutcome("generic-hmac", metrics.OutcomeFailed, "client_error") }, Deliveries, "Count", 1,
		map[string]string{DimProviderType: "generic-hmac", DimOutcome: "failed", DimReason: "client_error"}},
	{func(r metrics.Recorder) { r.DeadLettered() }, DeadLetters, "Count", 1, nil},
	{func(r metrics.Recorder) { r.DeliveryOutcome("github", metrics.OutcomeSkipped, "superseded") }, Deliveries, "Count", 1,
		map[string]string{DimProviderType: "github", DimOutcome: "skipped", DimReason: "superseded"}},
}

func record(t *testing.T, opts Options) []string {
	t.Helper()
	var out bytes.Buffer
	r := New(&out, opts)
	for _, m := range measurements {
		m.record(r)
	}
	r.QueueDepthChange(3) // writes nothing: SQS has the depth
	lines := strings.SplitAfter(out.String(), "\n")
	if last := lines[len(lines)-1]; last != "" {
		t.Fatalf("output does not end in a newline: %q", last)
	}
	lines = lines[:len(lines)-1]
	if len(lines) != len(measurements) {
		t.Fatalf("%d lines for %d measurements:\n%s", len(lines), len(measurements), out.String())
	}
	return lines
}

// The lines, byte for byte, against testdata/lines.golden (go test -update
// rewrites it).
func TestGolden(t *testing.T) {
	got := strings.Join(record(t, Options{Function: "herald-dispatch", Now: clock(t0, time.Second)}), "")
	path := filepath.Join("testdata", "lines.golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("lines differ from %s (go test -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

// Each line is a valid EMF document that says what was measured: the
// namespace, one metric with its unit and value, the dimensions of its one
// DimensionSet, and the clock's time.
func TestLinesAreValid(t *testing.T) {
	for _, function := range []string{"herald-dispatch", ""} {
		t.Run(fmt.Sprintf("function=%q", function), func(t *testing.T) {
			lines := record(t, Options{Function: function, Now: clock(t0, time.Second)})
			for i, line := range lines {
				m := measurements[i]
				doc, err := emftest.Parse([]byte(line))
				if err != nil {
					t.Errorf("line %d: %v\n%s", i, err, line)
					continue
				}
				want := map[string]string{}
				for k, v := range m.dims {
					want[k] = v
				}
				if function != "" {
					want[DimFunction] = function
				}
				if doc.Namespace != Namespace || len(doc.Metrics) != 1 || doc.Metrics[m.metric] != (emftest.Metric{Value: m.value, Unit: m.unit}) {
					t.Errorf("line %d: namespace %q, metrics %v; want %s %s = %v %s", i, doc.Namespace, doc.Metrics, Namespace, m.metric, m.value, m.unit)
				}
				if fmt.Sprint(doc.Dimensions) != fmt.Sprint(want) || len(doc.DimensionSets) != 1 || len(doc.DimensionSets[0]) != len(want) {
					t.Errorf("line %d: dimensions %v in sets %v, want %v in one set", i, doc.Dimensions, doc.DimensionSets, want)
				}
				if at := t0.Add(time.Duration(i) * time.Second); !doc.Timestamp.Equal(at) {
					t.Errorf("line %d: timestamp %s, want %s", i, doc.Timestamp, at)
				}
				// Nothing but the directive, the dimensions and the value.
				if n := len(doc.Members); n != 2+len(want) {
					t.Errorf("line %d: %d root members, want %d", i, n, 2+len(want))
				}
			}
		})
	}
}

// Labels are the code's constants. Anything else, free text with a secret
// in it or a label too long, is written as "other", and an empty one as
// "none": the line stays valid, the secret stays out and the number of
// metrics stays bounded.
func TestLabels(t *testing.T) {
	const secret = "xoxb-1234-SECRET"
	for _, c := range []struct{ in, want string }{
		{"slack", "slack"},
		{"generic-hmac", "generic-hmac"},
		{"rate_limited", "rate_limited"},
		{"gitlabmergerequestcomment", "gitlabmergerequestcomment"},
		{"", LabelNone},
		{"Slack", LabelOther},
		{"permanent failure", LabelOther},
		{secret, LabelOther},
		{`https://hooks.slack.com/services/T0/B0/` + secret, LabelOther},
		{`"},"injected":1,"x":"`, LabelOther},
		{"é", LabelOther},
		{strings.Repeat("a", maxLabel), strings.Repeat("a", maxLabel)},
		{strings.Repeat("a", maxLabel+1), LabelOther},
	} {
		var out bytes.Buffer
		r := New(&out, Options{Function: "herald-dispatch", Now: clock(t0, 0)})
		r.DeliveryOutcome(c.in, metrics.OutcomeFailed, c.in)
		r.EventRejected(c.in)
		r.DeliveryAttempt(c.in, time.Millisecond)
		docs, err := emftest.Lines(out.String())
		if err != nil || len(docs) != 3 {
			t.Errorf("%q: %d documents, %v", c.in, len(docs), err)
			continue
		}
		for _, d := range docs {
			for _, key := range []string{DimProviderType, DimReason} {
				if v, ok := d.Dimensions[key]; ok && v != c.want {
					t.Errorf("%q: %s = %q, want %q", c.in, key, v, c.want)
				}
			}
		}
		if strings.Contains(out.String(), "SECRET") || strings.Contains(out.String(), "injected") {
			t.Errorf("%q reached the output:\n%s", c.in, out.String())
		}
	}
}

// writes records each Write call.
type writes struct {
	mu    sync.Mutex
	calls []string
}

func (w *writes) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = append(w.calls, string(p))
	return len(p), nil
}

// The dispatch function delivers a batch concurrently: every measurement
// is one whole line in one Write, and none is lost.
func TestConcurrent(t *testing.T) {
	w := &writes{}
	r := New(w, Options{Function: "herald-dispatch"})
	const goroutines, each = 10, 200
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				r.DeliveryAttempt("slack", time.Duration(g*each+i)*time.Microsecond)
				r.DeliveryOutcome("slack", metrics.OutcomeDelivered, "")
			}
		})
	}
	wg.Wait()
	if len(w.calls) != 2*goroutines*each {
		t.Fatalf("%d writes, want %d", len(w.calls), 2*goroutines*each)
	}
	for _, c := range w.calls {
		if strings.Count(c, "\n") != 1 || !strings.HasSuffix(c, "\n") {
			t.Fatalf("a write is not one line: %q", c)
		}
		if _, err := emftest.Parse([]byte(c)); err != nil {
			t.Fatalf("%v\n%s", err, c)
		}
	}
}

// A failing writer is no caller's problem.
func TestWriteError(t *testing.T) {
	r := New(failingWriter{}, Options{})
	r.EventReceived()
	r.DeliveryOutcome("slack", metrics.OutcomeDelivered, "")
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// Recording allocates nothing once the line buffer has grown: the
// dispatch function records a few lines per event.
func TestNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r := New(io.Discard, Options{Function: "herald-dispatch"})
	for name, f := range map[string]func(){
		"EventReceived":   r.EventReceived,
		"EventRejected":   func() { r.EventRejected("invalid") },
		"DeliveryOutcome": func() { r.DeliveryOutcome("slack", metrics.OutcomeRetry, "rate_limited") },
		"DeliveryAttempt": func() { r.DeliveryAttempt("slack", 150*time.Millisecond) },
		"DeadLettered":    r.DeadLettered,
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func BenchmarkDeliveryOutcome(b *testing.B) {
	r := New(io.Discard, Options{Function: "herald-dispatch"})
	b.ReportAllocs()
	for b.Loop() {
		r.DeliveryOutcome("slack", metrics.OutcomeRetry, "rate_limited")
	}
}

func BenchmarkDeliveryAttempt(b *testing.B) {
	r := New(io.Discard, Options{Function: "herald-dispatch"})
	b.ReportAllocs()
	for b.Loop() {
		r.DeliveryAttempt("slack", 182431*time.Microsecond)
	}
}

// The lines of a whole delivery (attempt and outcome) from ten goroutines,
// as a batch of ten is delivered, into a pipe as Lambda's stdout is.
func BenchmarkParallelDelivery(b *testing.B) {
	pr, pw, err := os.Pipe()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, pr); close(done) }()
	r := New(pw, Options{Function: "herald-dispatch"})
	b.ReportAllocs()
	b.SetParallelism(10)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r.DeliveryAttempt("slack", 182431*time.Microsecond)
			r.DeliveryOutcome("slack", metrics.OutcomeDelivered, "")
		}
	})
	b.StopTimer()
	pw.Close()
	<-done
}
