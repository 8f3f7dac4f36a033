package harness

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ForwarderBinaryEnv names a prebuilt forwarder binary to test instead of
// building one.
const ForwarderBinaryEnv = "FORWARDER_BIN"

// ForwarderBinary returns $FORWARDER_BIN when set, and otherwise builds the
// forwarder into dir with BuildForwarder.
func ForwarderBinary(dir string) (string, error) {
	if bin := os.Getenv(ForwarderBinaryEnv); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s: %w", ForwarderBinaryEnv, err)
		}
		return abs, nil
	}
	return BuildForwarder(dir, false)
}

// BuildForwarder builds cmd/forwarder into dir and returns the binary's path.
// The forwarder is a module of its own (it carries the Kubernetes client), so
// it is built inside that module, with exactly its dependencies. stripped
// adds -ldflags "-s -w", as a release build.
func BuildForwarder(dir string, stripped bool) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	name := "forwarder"
	args := []string{"build", "-trimpath"}
	if stripped {
		name = "forwarder-stripped"
		args = append(args, "-ldflags", "-s -w")
	}
	bin := filepath.Join(dir, name)
	args = append(args, "-o", bin, ".")
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join(root, "cmd", "forwarder")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false", "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s in %s: %w\n%s", strings.Join(args, " "), cmd.Dir, err, out)
	}
	return bin, nil
}

// ForwarderOptions configure StartForwarder. HeraldURL, Cluster, TokenFile
// and BufferDir are required.
type ForwarderOptions struct {
	HeraldURL string
	Cluster   string
	TokenFile string
	BufferDir string
	// Addr is the address to listen on; a free loopback port when empty.
	Addr string
	// BufferMaxBytes is --buffer-max-bytes when positive.
	BufferMaxBytes int64
	// RetryMaxDelay is --retry-max-delay when positive; tests keep it short
	// so that a Herald coming back is noticed quickly.
	RetryMaxDelay time.Duration
	// Args are appended to the command line.
	Args []string
	// Env is appended to the process environment.
	Env []string
	// ReadyTimeout bounds the wait for /healthz; 15 s when zero.
	ReadyTimeout time.Duration
	// Output, when set, receives the forwarder's stderr and stdout instead
	// of an in-memory buffer.
	Output io.Writer
}

// Forwarder is a running forwarder started with --no-kube: the relay alone.
type Forwarder struct {
	Addr string // host:port it listens on
	URL  string // http://Addr

	cmd    *exec.Cmd
	output *syncBuffer
	done   chan struct{}
	err    error // Wait's result, valid once done is closed
}

// StartForwarder runs `bin --no-kube --addr ... --herald-url ... --cluster
// ... --token-file ... --buffer-dir ...` and waits until GET /healthz answers
// 200. When it exits before that on a free port it picked itself (the port
// taken in the meantime), it is retried twice on a new port.
func StartForwarder(bin string, o ForwarderOptions) (*Forwarder, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		f, err := startForwarder(bin, o)
		if err == nil {
			return f, nil
		}
		lastErr = err
		if o.Addr != "" || f == nil || !f.Exited() {
			if f != nil {
				_ = f.Kill()
			}
			return nil, err
		}
	}
	return nil, lastErr
}

func startForwarder(bin string, o ForwarderOptions) (*Forwarder, error) {
	addr := o.Addr
	if addr == "" {
		var err error
		if addr, err = FreeAddr(); err != nil {
			return nil, err
		}
	}
	args := []string{"--no-kube", "--addr", addr, "--herald-url", o.HeraldURL, "--cluster", o.Cluster,
		"--token-file", o.TokenFile, "--buffer-dir", o.BufferDir}
	if o.BufferMaxBytes > 0 {
		args = append(args, "--buffer-max-bytes", strconv.FormatInt(o.BufferMaxBytes, 10))
	}
	if o.RetryMaxDelay > 0 {
		args = append(args, "--retry-max-delay", o.RetryMaxDelay.String())
	}
	args = append(args, o.Args...)
	cmd := exec.Command(bin, args...)
	// FORWARDER_* variables of the caller's environment must not change
	// the flags a test chose.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "FORWARDER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, o.Env...)
	f := &Forwarder{Addr: addr, URL: "http://" + addr, cmd: cmd, output: &syncBuffer{}, done: make(chan struct{})}
	if o.Output != nil {
		cmd.Stderr, cmd.Stdout = o.Output, o.Output
	} else {
		cmd.Stderr, cmd.Stdout = f.output, f.output
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		f.err = cmd.Wait()
		close(f.done)
	}()
	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	if err := waitOK(f.URL+"/healthz", timeout, f.done, func() error { return f.err }); err != nil {
		return f, fmt.Errorf("forwarder %s: %w\noutput:\n%s", strings.Join(args, " "), err, f.Output())
	}
	return f, nil
}

// waitOK polls url until it answers 200, the process ends (done) or timeout.
func waitOK(url string, timeout time.Duration, done <-chan struct{}, exitErr func() error) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("exited before it was ready: %v", exitErr())
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("GET %s not 200 after %s (last: %s)", url, timeout, last)
}

// PID is the forwarder's process id.
func (f *Forwarder) PID() int { return f.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (f *Forwarder) Exited() bool {
	select {
	case <-f.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (f *Forwarder) Done() <-chan struct{} { return f.done }

// Output returns what the forwarder wrote so far (its JSON logs), unless
// ForwarderOptions.Output took it.
func (f *Forwarder) Output() string { return f.output.String() }

// Stop sends SIGTERM and waits up to timeout for a clean exit (the
// forwarder flushes in-flight sends first), then kills it. It returns an
// error when the process had died before, exited non-zero, or had to be
// killed.
func (f *Forwarder) Stop(timeout time.Duration) error {
	if f.Exited() {
		if f.err == nil {
			return errors.New("forwarder exited on its own with status 0")
		}
		return fmt.Errorf("forwarder exited on its own: %w", f.err)
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-f.done:
		if f.err != nil {
			return fmt.Errorf("forwarder exited after SIGTERM: %w", f.err)
		}
		return nil
	case <-time.After(timeout):
		_ = f.cmd.Process.Kill()
		<-f.done
		return fmt.Errorf("forwarder did not stop within %s of SIGTERM; killed", timeout)
	}
}

// Kill ends the forwarder with SIGKILL, as a crash or an OOM kill would,
// and waits for it to be gone.
func (f *Forwarder) Kill() error {
	if f.Exited() {
		return nil
	}
	if err := f.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	<-f.done
	return nil
}

// Metrics reads the forwarder's /metrics; see ScrapeMetrics.
func (f *Forwarder) Metrics() (map[string]float64, error) { return ScrapeMetrics(f.URL + "/metrics") }

// ScrapeMetrics reads a Prometheus text exposition and returns every sample
// by its series as written, name and labels: `name` or
// `name{label="value"}`.
func ScrapeMetrics(url string) (map[string]float64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return ParseMetrics(resp.Body)
}

// ParseMetrics parses the Prometheus text format into series and values.
func ParseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// The value follows the series; a label value may hold spaces, so
		// the series ends at the closing brace when there is one.
		series, rest := line, ""
		if i := strings.LastIndexByte(line, '}'); i >= 0 {
			series, rest = line[:i+1], line[i+1:]
		} else if i := strings.IndexByte(line, ' '); i >= 0 {
			series, rest = line[:i], line[i:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		out[series] = v
	}
	return out, sc.Err()
}

// StartAt runs `bin serve --config configDir --addr addr` on the address
// given, as Start does on a free one: to bring Herald back where a
// forwarder already sends. It does not retry on another port.
func StartAt(bin, configDir, addr string, opts Options) (*Process, error) {
	p, err := startAt(bin, configDir, addr, opts)
	if err != nil {
		if p != nil {
			p.Stop()
		}
		return nil, err
	}
	return p, nil
}
