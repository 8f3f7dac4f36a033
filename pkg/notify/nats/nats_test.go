package nats_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	natsgo "github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/nats"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is the generic provider's body of the behaviour reference
// §4.2: NATS publishes exactly what the generic provider posts.
const referenceBody = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

const subject = "flux.events"

// server is a real nats-server on a loopback port, stopped with the test.
type server struct {
	URL     string
	monitor string
	port    int
	args    []string
	cmd     *exec.Cmd
}

func natsServerPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("nats-server"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/nats-server"); err == nil {
		return "/usr/sbin/nats-server"
	}
	t.Fatal("nats-server not found: apt-get install nats-server")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startServer runs nats-server with args on a free port, with its
// monitoring endpoint on another, and waits until it accepts connections.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	s := &server{port: freePort(t), args: args}
	mport := freePort(t)
	s.URL = "nats://127.0.0.1:" + strconv.Itoa(s.port)
	s.monitor = "http://127.0.0.1:" + strconv.Itoa(mport)
	s.args = append([]string{"-a", "127.0.0.1", "-p", strconv.Itoa(s.port), "-m", strconv.Itoa(mport)}, args...)
	s.start(t)
	return s
}

func (s *server) start(t *testing.T) {
	t.Helper()
	s.cmd = exec.Command(natsServerPath(t), s.args...)
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := s.cmd
	t.Cleanup(func() { s.kill(cmd) })
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("nats-server did not start")
}

func (s *server) kill(cmd *exec.Cmd) {
	if cmd.ProcessState == nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

func (s *server) stop() { s.kill(s.cmd) }

// subscribe returns the channel of messages on subject, through a plain
// connection with opts.
func (s *server) subscribe(t *testing.T, opts ...natsgo.Option) chan *natsgo.Msg {
	t.Helper()
	nc, err := natsgo.Connect(s.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ch := make(chan *natsgo.Msg, 10)
	if _, err := nc.ChanSubscribe(subject, ch); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return ch
}

func receive(t *testing.T, ch chan *natsgo.Msg) []byte {
	t.Helper()
	select {
	case m := <-ch:
		return m.Data
	case <-time.After(5 * time.Second):
		t.Fatal("no message received")
		return nil
	}
}

func newNotifier(t *testing.T, cfg notify.Config) notify.Notifier {
	t.Helper()
	if cfg.Channel == "" {
		cfg.Channel = subject
	}
	return notifytest.New(t, nats.New, cfg)
}

func notifyOK(t *testing.T, n notify.Notifier, ev event.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if retry, err := n.Notify(ctx, ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
}

// The message is the generic provider's body, byte for byte.
func TestPublish(t *testing.T) {
	srv := startServer(t)
	msgs := srv.subscribe(t)
	n := newNotifier(t, notify.Config{Address: notify.Secret(srv.URL)})
	for _, tc := range []struct {
		severity string
		metadata bool
	}{{event.SeverityInfo, true}, {event.SeverityInfo, false}, {event.SeverityError, true}, {event.SeverityError, false}} {
		t.Run(fmt.Sprintf("%s-metadata-%v", tc.severity, tc.metadata), func(t *testing.T) {
			ev := notifytest.ReferenceEvent(tc.severity, tc.metadata)
			notifyOK(t, n, ev)
			want, _ := json.Marshal(ev)
			if got := receive(t, msgs); string(got) != string(want) {
				t.Errorf("message:\n got %s\nwant %s", got, want)
			}
		})
	}
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := receive(t, msgs); string(got) != referenceBody {
		t.Errorf("message:\n got %s\nwant %s", got, referenceBody)
	}
}

// connz is the part of nats-server's /connz that the tests read.
type connz struct {
	Connections []struct {
		Name     string `json:"name"`
		InMsgs   int    `json:"in_msgs"`
		AuthUser string `json:"authorized_user"`
	} `json:"connections"`
}

func (s *server) connections(t *testing.T) connz {
	t.Helper()
	resp, err := http.Get(s.monitor + "/connz?auth=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var c connz
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// New does not dial; the first Notify connects under Flux's connection
// name, and later events reuse that one connection.
func TestConnectionReused(t *testing.T) {
	srv := startServer(t)
	msgs := srv.subscribe(t)
	n := newNotifier(t, notify.Config{Address: notify.Secret(srv.URL)})
	// Counted by Flux's connection name: the server may still list the
	// readiness probe's short-lived connection.
	for _, c := range srv.connections(t).Connections {
		if c.Name == nats.ConnectionName {
			t.Fatal("New dialled: a connection named " + nats.ConnectionName + " exists before the first Notify")
		}
	}
	for range 3 {
		notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
		receive(t, msgs)
	}
	var publishers int
	for _, c := range srv.connections(t).Connections {
		if c.Name == nats.ConnectionName {
			publishers++
			if c.InMsgs != 3 {
				t.Errorf("in_msgs = %d, want 3 on one connection", c.InMsgs)
			}
		}
	}
	if publishers != 1 {
		t.Errorf("%d connections named %q, want 1", publishers, nats.ConnectionName)
	}
}

// Close closes the connection the notifier dialled, and a later Notify
// fails retryably instead of dialling one nobody would close.
func TestClose(t *testing.T) {
	srv := startServer(t)
	n := newNotifier(t, notify.Config{Address: notify.Secret(srv.URL)})
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err := n.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(srv.connections(t).Connections) != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if c := srv.connections(t); len(c.Connections) != 0 {
		t.Fatalf("%d connections after Close", len(c.Connections))
	}
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || !retry || len(srv.connections(t).Connections) != 0 {
		t.Fatalf("Notify after Close: retry=%v err=%v", retry, err)
	}
}

// A lost connection fails one attempt (retryable), and the next dials
// afresh instead of failing on the dead connection.
func TestServerRestart(t *testing.T) {
	srv := startServer(t)
	n := newNotifier(t, notify.Config{Address: notify.Secret(srv.URL)})
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))

	srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	retry, err := n.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || !retry {
		t.Fatalf("with the server down: retry=%v err=%v, want a retryable error", retry, err)
	}

	srv.start(t)
	msgs := srv.subscribe(t)
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := receive(t, msgs); string(got) != referenceBody {
		t.Errorf("message after restart: %s", got)
	}
}

func TestUserPassword(t *testing.T) {
	srv := startServer(t, "--user", "u", "--pass", "p4ssw0rd-of-the-test")
	msgs := srv.subscribe(t, natsgo.UserInfo("u", "p4ssw0rd-of-the-test"))

	n := newNotifier(t, notify.Config{Address: notify.Secret(srv.URL), Username: "u", Password: "p4ssw0rd-of-the-test"})
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityError, true))
	receive(t, msgs)

	// Wrong credentials are permanent, and the error holds no password.
	n = newNotifier(t, notify.Config{Address: notify.Secret(srv.URL), Username: "u", Password: "wr0ng-password-value"})
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, true))
	if err == nil || retry {
		t.Fatalf("retry=%v err=%v, want a permanent error", retry, err)
	}
	if !strings.Contains(strings.ToLower(err.Error()), "authorization violation") || strings.Contains(err.Error(), "wr0ng") {
		t.Errorf("err = %v", err)
	}

	// A username without a password sends no credentials, as in Flux.
	n = newNotifier(t, notify.Config{Address: notify.Secret(srv.URL), Username: "u"})
	if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, true)); err == nil {
		t.Error("connected without credentials")
	}
}

// nkeyServer accepts only the user whose seed it returns.
func nkeyServer(t *testing.T) (*server, []byte) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	conf := filepath.Join(t.TempDir(), "nkey.conf")
	if err := os.WriteFile(conf, []byte(`authorization { users = [ { nkey: "`+pub+`" } ] }`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "-c", conf), seed
}

func TestNKey(t *testing.T) {
	srv, seed := nkeyServer(t)
	kp, _ := nkeys.FromSeed(seed)
	pub, _ := kp.PublicKey()
	msgs := srv.subscribe(t, natsgo.Nkey(pub, kp.Sign))

	// The nkey wins over a username and password, which this server would refuse.
	n := newNotifier(t, notify.Config{
		Address: notify.Secret(srv.URL), Username: "u", Password: "p",
		SecretData: map[string]notify.Secret{"nkey": notify.Secret(seed)},
	})
	notifyOK(t, n, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := receive(t, msgs); string(got) != referenceBody {
		t.Errorf("message: %s", got)
	}
}

// creds wins over nkey: the server, which knows only the nkey user, refuses
// the JWT, so the connection fails although the nkey alone would pass.
func TestCredsFirst(t *testing.T) {
	srv, seed := nkeyServer(t)
	n := newNotifier(t, notify.Config{
		Address: notify.Secret(srv.URL),
		SecretData: map[string]notify.Secret{
			"creds": notify.Secret(credsFile(t)),
			"nkey":  notify.Secret(seed),
		},
	})
	retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || retry {
		t.Fatalf("retry=%v err=%v, want the JWT refused", retry, err)
	}
}

// credsFile is a creds file in nsc's format, with a JWT the server cannot
// verify and a fresh user seed.
func credsFile(t *testing.T) string {
	t.Helper()
	kp, _ := nkeys.CreateUser()
	seed, _ := kp.Seed()
	return "-----BEGIN NATS USER JWT-----\neyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n------END NATS USER JWT------\n\n" +
		"-----BEGIN USER NKEY SEED-----\n" + string(seed) + "\n------END USER NKEY SEED------\n"
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"no address", notify.Config{Channel: subject}, "NATS server (address) cannot be empty"},
		{"no subject", notify.Config{Address: "nats://127.0.0.1:4222"}, "NATS subject (channel) cannot be empty"},
		{"bad nkey", notify.Config{Address: "nats://x", Channel: subject, SecretData: map[string]notify.Secret{"nkey": "SUs3cr3t-not-a-seed"}}, "error parsing nkey seed: "},
		{"bad address", notify.Config{Address: "nats://u:p@127.0.0.1:s3cr3t", Channel: subject}, "invalid NATS server (address): entry 1 is not a URL"},
		{"bad creds", notify.Config{Address: "nats://x", Channel: subject, SecretData: map[string]notify.Secret{"creds": "s3cr3t but not creds"}}, "invalid NATS creds in secret"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := nats.New(tc.cfg)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("err leaks the secret: %v", err)
			}
		})
	}
}

func TestRetry(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		n := newNotifier(t, notify.Config{Address: notify.Secret("nats://127.0.0.1:" + strconv.Itoa(freePort(t)))})
		retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if err == nil || !retry {
			t.Fatalf("retry=%v err=%v, want retryable", retry, err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		// A listener that never speaks NATS: the handshake times out.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		n := newNotifier(t, notify.Config{Address: notify.Secret("nats://" + l.Addr().String())})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		retry, err := n.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
		if err == nil || !retry {
			t.Fatalf("retry=%v err=%v, want retryable", retry, err)
		}
	})
	t.Run("bad subject", func(t *testing.T) {
		srv := startServer(t)
		n := newNotifier(t, notify.Config{Address: notify.Secret(srv.URL), Channel: "bad subject"})
		retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if err == nil || retry {
			t.Fatalf("retry=%v err=%v, want permanent", retry, err)
		}
	})
}

// Credentials in the server URL and the secret never reach an error.
func TestNoSecretLeak(t *testing.T) {
	srv := startServer(t, "--user", "u", "--pass", "right-password")
	closed := "127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, address := range []string{
		"nats://u:" + notifytest.LeakUserinfo + "@" + strings.TrimPrefix(srv.URL, "nats://"),
		"nats://u:" + notifytest.LeakUserinfo + "@" + closed,
		"nats://u:" + notifytest.LeakUserinfo + "@127.0.0.1:" + notifytest.LeakPathToken,
	} {
		cfg := notify.Config{Address: notify.Secret(address), Channel: subject, Username: "u", Password: notifytest.LeakPassword}
		cfg.SecretData = map[string]notify.Secret{"password": cfg.Password}
		n, err := nats.New(cfg)
		if err == nil {
			_, err = n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		}
		if err == nil {
			t.Fatal("no error")
		}
		t.Logf("error: %v", err)
		for e := error(err); e != nil; e = errors.Unwrap(e) {
			for _, text := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
				for _, leak := range []string{notifytest.LeakUserinfo, notifytest.LeakPassword, notifytest.LeakPathToken} {
					if strings.Contains(text, leak) {
						t.Errorf("error leaks %s: %s", leak, text)
					}
				}
			}
		}
	}
}
