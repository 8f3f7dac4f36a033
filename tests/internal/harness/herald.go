// Package harness runs the real herald binary as a separate process for the
// end-to-end tests and the load test: it builds it, writes its config folder,
// starts `herald serve` on a free loopback port and stops it again.
package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MainModule is the module path of the code under test.
const MainModule = "github.com/heraldhq/herald"

// RepoRoot returns the directory of Herald's main module, found by walking up
// from the working directory to the go.mod that declares MainModule.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isMainModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod declaring %s above the working directory", MainModule)
		}
		dir = parent
	}
}

func isMainModule(gomod string) bool {
	f, err := os.Open(gomod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, "module "); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`) == MainModule
		}
	}
	return false
}

// BinaryEnv names a prebuilt herald binary to test instead of building one.
const BinaryEnv = "HERALD_BIN"

// HeraldBinary returns $HERALD_BIN when set, and otherwise builds herald into
// dir with BuildHerald.
func HeraldBinary(dir string) (string, error) {
	if bin := os.Getenv(BinaryEnv); bin != "" {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return "", err
		}
		if _, err := os.Stat(abs); err != nil {
			return "", fmt.Errorf("%s: %w", BinaryEnv, err)
		}
		return abs, nil
	}
	return BuildHerald(dir)
}

// BuildFluxRecorder builds tests/fluxrecorder, a module of its own that
// posts one event with Flux's newest event recorder, into dir. That
// recorder needs Go 1.27: GOTOOLCHAIN=auto lets the go command switch to
// the toolchain the module's go.mod names (the module proxy serves it, and
// .ci/run fetches it ahead), while every other build stays on the local Go.
func BuildFluxRecorder(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "fluxrecorder")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Dir = filepath.Join(root, "tests", "fluxrecorder")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=auto", "GOFLAGS=-buildvcs=false")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build in %s: %w\n%s", cmd.Dir, err, out)
	}
	return bin, nil
}

// BuildHerald builds ./cmd/herald of the main module into dir, as `make build`
// does, and returns the binary's path. It builds in the main module so that
// the binary has exactly the main module's dependencies, not the tests'.
func BuildHerald(dir string) (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "herald")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/herald")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/herald in %s: %w\n%s", root, err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address with a port that was free a moment ago.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Process is a running `herald serve`.
type Process struct {
	Addr string // host:port it listens on
	URL  string // http://Addr, or https://Addr with Options.TLSClient

	client *http.Client // of WaitReady
	cmd    *exec.Cmd
	stderr *syncBuffer
	stdout *syncBuffer
	done   chan struct{}
	err    error // Wait's result, valid once done is closed
	// cleanup removes a temporary state directory once stopped.
	cleanup func()
}

// Options configure Start.
type Options struct {
	// Args are appended after `serve --config DIR --addr ADDR`.
	Args []string
	// ReadyTimeout bounds the wait for /readyz; 15 s when zero.
	ReadyTimeout time.Duration
	// Env is appended to the process environment.
	Env []string
	// StateDir is --state-dir. Empty means a new temporary directory, removed
	// when the process is stopped, so that tests never share state.
	StateDir string
	// Output, when set, receives herald's stderr and stdout instead of an
	// in-memory buffer (a load test writes to a file so that logging at
	// thousands of events per second does not grow the harness's memory).
	Output io.Writer
	// TLSClient, for a herald serving HTTPS (Args with --tls-cert-file), is
	// a client that trusts its certificate: URL is https and the readiness
	// check uses it.
	TLSClient *http.Client
}

// Start runs `bin serve --config configDir --addr <free port>` and waits until
// GET /readyz answers 200. A process that exits before it is ready (a port
// taken in the meantime, for example) is retried twice on a new port.
func Start(bin, configDir string, opts Options) (*Process, error) {
	var lastErr error
	for try := 0; try < 3; try++ {
		p, err := start(bin, configDir, opts)
		if err == nil {
			return p, nil
		}
		lastErr = err
		if p != nil && !p.Exited() {
			// Running but not ready: retrying would not help.
			p.Stop()
			return nil, err
		}
		if p != nil {
			p.Stop() // exited: removes its temporary state directory
		}
	}
	return nil, lastErr
}

func start(bin, configDir string, opts Options) (*Process, error) {
	addr, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	return startAt(bin, configDir, addr, opts)
}

// startAt starts herald serve on addr and waits until it is ready. A
// process that started but is not ready is returned with the error, for
// the caller to stop or retry.
func startAt(bin, configDir, addr string, opts Options) (*Process, error) {
	cleanup := func() {}
	if opts.StateDir == "" {
		dir, err := os.MkdirTemp("", "herald-state-")
		if err != nil {
			return nil, err
		}
		opts.StateDir = dir
		cleanup = func() { os.RemoveAll(dir) }
	}
	args := append([]string{"serve", "--config", configDir, "--addr", addr, "--state-dir", opts.StateDir}, opts.Args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), opts.Env...)
	p := &Process{
		Addr:    addr,
		URL:     "http://" + addr,
		client:  &http.Client{Timeout: time.Second},
		cmd:     cmd,
		stderr:  &syncBuffer{},
		stdout:  &syncBuffer{},
		done:    make(chan struct{}),
		cleanup: cleanup,
	}
	if opts.TLSClient != nil {
		p.URL, p.client = "https://"+addr, opts.TLSClient
	}
	if opts.Output != nil {
		cmd.Stderr, cmd.Stdout = opts.Output, opts.Output
	} else {
		cmd.Stderr, cmd.Stdout = p.stderr, p.stdout
	}
	if err := cmd.Start(); err != nil {
		cleanup()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	timeout := opts.ReadyTimeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	if err := p.WaitReady(timeout); err != nil {
		return p, fmt.Errorf("%s %s: %w\nstderr:\n%s", bin, strings.Join(args, " "), err, p.Stderr())
	}
	return p, nil
}

// WaitReady polls GET /readyz until it answers 200.
func (p *Process) WaitReady(timeout time.Duration) error {
	client := p.client
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return fmt.Errorf("herald exited before it was ready: %v", p.err)
		default:
		}
		resp, err := client.Get(p.URL + "/readyz")
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
	return fmt.Errorf("GET /readyz not 200 after %s (last: %s)", timeout, last)
}

// PID is the process id of herald.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stderr returns everything herald wrote to stderr so far (its JSON logs).
func (p *Process) Stderr() string { return p.stderr.String() }

// Stdout returns everything herald wrote to stdout so far.
func (p *Process) Stdout() string { return p.stdout.String() }

// Stop sends SIGTERM, waits up to 5 s for a graceful exit, then kills.
// It returns the exit error of a process that had already died, so callers
// can tell a crash from a clean stop.
func (p *Process) Stop() error {
	if p.cleanup != nil {
		defer p.cleanup()
	}
	if p.Exited() {
		return p.exitErr()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return nil
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		return errors.New("herald did not stop within 5 s of SIGTERM; killed")
	}
}

// Kill ends the process with SIGKILL, as a crash or an OOM kill would, and
// waits for it to exit. Its state directory is left as the crash left it.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *Process) exitErr() error {
	if p.err == nil {
		return errors.New("herald exited on its own with status 0")
	}
	return fmt.Errorf("herald exited on its own: %w", p.err)
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// syncBuffer is a bytes.Buffer safe for the writer goroutine and readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
