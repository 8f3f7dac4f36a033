package lambdatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Target is a platform to build for.
type Target struct{ GOOS, GOARCH string }

// Host is the platform the tests run on.
func Host() Target { return Target{runtime.GOOS, runtime.GOARCH} }

// Lambda is the platform Herald deploys to (provided.al2023, arm64).
var Lambda = Target{"linux", "arm64"}

// ReleaseFlags are the `go build` flags of the Makefile's Lambda
// artifacts; Builder adds GOOS, GOARCH and CGO_ENABLED=0.
var ReleaseFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// Builder compiles function binaries as the Makefile does, each package and
// target at most once, into Dir.
type Builder struct {
	// Dir receives the binaries; a test's TempDir removes them at its end.
	Dir string

	mu     sync.Mutex
	builds map[string]*build
}

type build struct {
	once sync.Once
	path string
	err  error
}

// NewBuilder returns a Builder writing into dir.
func NewBuilder(dir string) *Builder {
	return &Builder{Dir: dir, builds: map[string]*build{}}
}

// Build returns the path of pkg's binary for target, compiling it on the
// first call; concurrent calls wait for the one build. pkg is an import
// path of the main module, such as
// "github.com/heraldhq/herald/functions/dispatch".
func (b *Builder) Build(pkg string, target Target) (string, error) {
	key := target.GOOS + "_" + target.GOARCH + "/" + pkg
	b.mu.Lock()
	bd := b.builds[key]
	if bd == nil {
		bd = &build{}
		b.builds[key] = bd
	}
	b.mu.Unlock()
	bd.once.Do(func() {
		dir := filepath.Join(b.Dir, target.GOOS+"_"+target.GOARCH, filepath.Base(pkg))
		if bd.err = os.MkdirAll(dir, 0o755); bd.err != nil {
			return
		}
		bd.path = filepath.Join(dir, "bootstrap")
		args := append([]string{"build", "-o", bd.path}, ReleaseFlags...)
		cmd := exec.Command("go", append(args, pkg)...)
		cmd.Env = append(os.Environ(), "GOOS="+target.GOOS, "GOARCH="+target.GOARCH, "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			bd.err = fmt.Errorf("go build %s for %s/%s: %v\n%s", pkg, target.GOOS, target.GOARCH, err, out)
		}
	})
	return bd.path, bd.err
}

// MustBuild is Build, failing tb on error.
func (b *Builder) MustBuild(tb testing.TB, pkg string, target Target) string {
	tb.Helper()
	path, err := b.Build(pkg, target)
	if err != nil {
		tb.Fatal(err)
	}
	return path
}

// BaseEnv is the environment Lambda's provided.al2023 runtime gives a
// function named name, without credentials or the Runtime API address.
func BaseEnv(name string) []string {
	return []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128",
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + name,
		"AWS_LAMBDA_LOG_STREAM_NAME=" + time.Now().UTC().Format("2006/01/02") + "/[$LATEST]0123456789abcdef0123456789abcdef",
		"AWS_EXECUTION_ENV=AWS_Lambda_provided.al2023",
		"AWS_REGION=us-east-1",
		"AWS_DEFAULT_REGION=us-east-1",
		"LAMBDA_TASK_ROOT=/var/task",
		"LAMBDA_RUNTIME_DIR=/var/runtime",
		"_HANDLER=bootstrap",
		"TZ=:UTC",
		"LANG=en_US.UTF-8",
		"PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin",
	}
}

// Function is a running function process and its Runtime.
type Function struct {
	Runtime *Runtime
	// Started is when the process was started, for cold-start figures.
	Started time.Time

	cmd    *exec.Cmd
	out    *tailBuffer
	exited chan struct{}
	err    error // of Wait, once exited is closed
}

// ErrExited is wrapped by Function.Invoke when the process ended.
var ErrExited = errors.New("the function process exited")

// Output kept of a function process, and the part of it a failed test
// logs. The dispatch function writes a log line and two metric lines per
// delivery attempt: the outage soak's 200 jobs and their retries write
// about 0.6 MB, and the test counts lines from its first job on.
const (
	outputMax = 4 << 20
	loggedMax = 64 << 10
)

// Start runs binary with env (which is all of its environment) plus
// AWS_LAMBDA_RUNTIME_API pointing at a new Runtime. The process is killed
// when tb ends, and its output logged if tb failed.
func Start(tb testing.TB, binary string, env []string) *Function {
	tb.Helper()
	rt := NewRuntime(tb)
	f := &Function{Runtime: rt, out: &tailBuffer{max: outputMax}, exited: make(chan struct{})}
	f.cmd = exec.Command(binary)
	f.cmd.Dir = filepath.Dir(binary)
	f.cmd.Env = append(append([]string(nil), env...), "AWS_LAMBDA_RUNTIME_API="+rt.Addr)
	f.cmd.Stdout, f.cmd.Stderr = f.out, f.out
	f.Started = time.Now()
	if err := f.cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", binary, err)
	}
	go func() { f.err = f.cmd.Wait(); close(f.exited) }()
	// Runs before the Runtime's cleanup, whose Close waits for the long poll.
	tb.Cleanup(func() {
		f.Stop()
		if tb.Failed() {
			tb.Logf("output of %s (its end):\n%s", filepath.Base(filepath.Dir(binary)), tail(f.Output(), loggedMax))
		}
	})
	return f
}

// Invoke invokes the function once; see Runtime.Invoke. It fails with
// ErrExited, and the process's output, if the process ends first.
func (f *Function) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go func() {
		select {
		case <-f.exited:
			cancel(fmt.Errorf("%w (%v); output:\n%s", ErrExited, f.err, tail(f.Output(), loggedMax)))
		case <-ctx.Done():
		}
	}()
	resp, err := f.Runtime.Invoke(ctx, payload)
	if err != nil && context.Cause(ctx) != nil && errors.Is(context.Cause(ctx), ErrExited) {
		return nil, context.Cause(ctx)
	}
	return resp, err
}

// Output returns the last 4 MiB the process wrote to stdout and stderr.
func (f *Function) Output() string { return f.out.String() }

// tail is the end of s: at most limit bytes, from a line start.
func tail(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	s = s[len(s)-limit:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "…\n" + s
}

// Stop kills the process and waits for it.
func (f *Function) Stop() {
	select {
	case <-f.exited:
		return
	default:
	}
	_ = f.cmd.Process.Kill()
	<-f.exited
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - b.max; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.TrimSpace(b.buf.String())
}
