// Package dynamotest runs the official DynamoDB Local for tests: one process
// per test binary, on a free loopback port, with SDK clients that talk to it
// and a counter of the requests they make.
//
// The emulator is not downloaded here. .ci/install-dynamodb-local puts it in
// $HERALD_DYNAMODB_LOCAL_DIR, by default <repo>/.cache/dynamodb-local. A test
// that needs it and does not find it fails, naming the command to run: a
// missing emulator must not turn the store's tests into silent skips.
//
// Use:
//
//	func TestMain(m *testing.M) { dynamotest.Main(m) }
//
//	func TestX(t *testing.T) {
//		srv := dynamotest.Shared(t)
//		client := srv.Client()
//		table := dynamotest.TableName(t)
//		...
//	}
package dynamotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// DirEnv names the environment variable that points at the folder holding
// DynamoDBLocal.jar and DynamoDBLocal_lib/.
const DirEnv = "HERALD_DYNAMODB_LOCAL_DIR"

// Region is the region of the clients; DynamoDB Local keeps one database per
// region and access key, so all clients use the same of both.
const Region = "us-east-1"

const startTimeout = 60 * time.Second

// Server is a running DynamoDB Local.
type Server struct {
	// Endpoint is its base URL, http://127.0.0.1:PORT.
	Endpoint string

	cmd    *exec.Cmd
	output *tailBuffer
	exited chan struct{}
}

// Dir returns the folder DynamoDB Local is looked for in.
func Dir() string {
	if dir := os.Getenv(DirEnv); dir != "" {
		return dir
	}
	return filepath.Join(repoRoot(), ".cache", "dynamodb-local")
}

// repoRoot is the top of the git work tree, or failing that the nearest
// folder above the working directory that holds a go.mod.
func repoRoot() string {
	if out, err := exec.Command("git", "rev-parse", "--show-toplevel").Output(); err == nil {
		if root := strings.TrimSpace(string(out)); root != "" {
			return root
		}
	}
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// installHint is the exact command that installs DynamoDB Local where Dir
// looks.
func installHint() string {
	cmd := "bash " + filepath.Join(repoRoot(), ".ci", "install-dynamodb-local")
	if dir := os.Getenv(DirEnv); dir != "" {
		cmd = DirEnv + "=" + shellQuote(dir) + " " + cmd
	}
	return cmd
}

func shellQuote(s string) string {
	if regexp.MustCompile(`^[A-Za-z0-9_./:=-]+$`).MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Start runs a new DynamoDB Local in memory on a free port and waits until
// it answers. Most tests want Shared instead.
func Start() (*Server, error) {
	dir := Dir()
	jar := filepath.Join(dir, "DynamoDBLocal.jar")
	if _, err := os.Stat(jar); err != nil {
		return nil, fmt.Errorf("DynamoDB Local is not installed: %s is missing.\n"+
			"Install it with:\n\n    %s\n\n"+
			"(it runs `npm pack amplify-dynamodb-simulator@2.9.30` and extracts package/emulator/ into %s; "+
			"set %s to use another folder)", jar, installHint(), dir, DirEnv)
	}
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, errors.New("DynamoDB Local needs Java 17 or newer and java is not on PATH; install it with:\n\n" +
			"    apt-get install -y openjdk-17-jre-headless")
	}
	var lastErr error
	// The port is free when picked but could be taken before Java binds
	// it; another port is tried then.
	for range 3 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		srv, err := start(java, dir, port)
		if err == nil {
			return srv, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func start(java, dir string, port int) (*Server, error) {
	cmd := exec.Command(java,
		"-Djava.library.path=./DynamoDBLocal_lib",
		"-jar", "DynamoDBLocal.jar",
		"-inMemory", "-disableTelemetry",
		"-port", strconv.Itoa(port))
	cmd.Dir = dir
	out := &tailBuffer{max: 16 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting DynamoDB Local: %w", err)
	}
	srv := &Server{
		Endpoint: "http://127.0.0.1:" + strconv.Itoa(port),
		cmd:      cmd,
		output:   out,
		exited:   make(chan struct{}),
	}
	go func() { _ = cmd.Wait(); close(srv.exited) }()

	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-srv.exited:
			return nil, fmt.Errorf("DynamoDB Local exited on start (port %d): %s", port, out.String())
		default:
		}
		// Any HTTP answer means it is serving; it rejects this unsigned GET.
		if resp, err := hc.Get(srv.Endpoint); err == nil {
			resp.Body.Close()
			return srv, nil
		}
		if time.Now().After(deadline) {
			srv.Stop()
			return nil, fmt.Errorf("DynamoDB Local did not answer on port %d within %v: %s", port, startTimeout, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the process.
func (s *Server) Stop() {
	if s == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Client returns an SDK client for the server: region us-east-1, static
// dummy credentials, response checksums not validated (DynamoDB Local's
// error responses carry none).
func (s *Server) Client(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.Endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "herald", SecretAccessKey: "herald", Source: "dynamotest"}, nil
		}),
		DisableValidateResponseChecksum: true,
	}, optFns...)
}

var shared struct {
	once sync.Once
	srv  *Server
	err  error
}

// Shared returns the test binary's DynamoDB Local, starting it on first use.
// It fails tb, with the command that installs the emulator, when it is
// missing. Main stops it when the tests are done.
func Shared(tb testing.TB) *Server {
	tb.Helper()
	shared.once.Do(func() { shared.srv, shared.err = Start() })
	if shared.err != nil {
		tb.Fatal(shared.err)
	}
	return shared.srv
}

// Main runs the tests of m and then stops the shared server, if one was
// started. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	shared.srv.Stop()
	os.Exit(code)
}

var tableSeq atomic.Int64

var unsafeTableChars = regexp.MustCompile(`[^A-Za-z0-9_.-]+`)

// TableName returns a table name no other test of the binary uses, derived
// from the test's name.
func TableName(tb testing.TB) string {
	name := unsafeTableChars.ReplaceAllString(tb.Name(), "_")
	if len(name) > 200 {
		name = name[:200]
	}
	return fmt.Sprintf("%s-%d", name, tableSeq.Add(1))
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
