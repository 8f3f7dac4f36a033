package agent

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// cleanEnv removes every FORWARDER_ variable for the test.
func cleanEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "FORWARDER_") || k == "KUBECONFIG" {
			t.Setenv(k, "") // restored after the test
			os.Unsetenv(k)
		}
	}
}

var required = []string{"--herald-url=https://abc.execute-api.eu-west-1.amazonaws.com/", "--cluster=prod-eu", "--token-file=/etc/herald/token"}

func TestParseFlagsDefaults(t *testing.T) {
	cleanEnv(t)
	c, err := ParseFlags(required, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9090" || c.HeraldURL.Host != "abc.execute-api.eu-west-1.amazonaws.com" || c.Cluster != "prod-eu" ||
		c.TokenFile != "/etc/herald/token" || c.BufferDir != "/var/lib/herald-forwarder" || c.BufferMaxBytes != 256<<20 ||
		c.NoKube || c.WatchEvents || c.PollInterval != 5*time.Second || c.SendWorkers <= 0 || c.LogLevel != "info" ||
		c.WriteTimeout != time.Minute || c.MaxConnections != 256 {
		t.Fatalf("config %+v", c)
	}
}

func TestParseFlagsFromEnvironment(t *testing.T) {
	cleanEnv(t)
	t.Setenv("FORWARDER_ADDR", "127.0.0.1:19090")
	t.Setenv("FORWARDER_HERALD_URL", "http://127.0.0.1:8080/")
	t.Setenv("FORWARDER_CLUSTER", "from-env")
	t.Setenv("FORWARDER_TOKEN_FILE", "/tmp/token")
	t.Setenv("FORWARDER_BUFFER_DIR", "/data/buffer")
	t.Setenv("FORWARDER_BUFFER_MAX_BYTES", "2097152")
	t.Setenv("FORWARDER_NO_KUBE", "true")
	t.Setenv("FORWARDER_WATCH_EVENTS", "1")
	t.Setenv("FORWARDER_POLL_INTERVAL", "250ms")
	t.Setenv("FORWARDER_SEND_WORKERS", "3")
	t.Setenv("KUBECONFIG", "/home/u/.kube/config")
	c, err := ParseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:19090" || c.HeraldURL.String() != "http://127.0.0.1:8080/" || c.Cluster != "from-env" ||
		c.TokenFile != "/tmp/token" || c.BufferDir != "/data/buffer" || c.BufferMaxBytes != 2<<20 || !c.NoKube ||
		!c.WatchEvents || c.PollInterval != 250*time.Millisecond || c.SendWorkers != 3 || c.Kubeconfig != "/home/u/.kube/config" {
		t.Fatalf("config from the environment %+v", c)
	}

	// A flag given wins over the environment.
	c, err = ParseFlags([]string{"--cluster=from-flag", "--no-kube=false", "--kubeconfig=/k"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Cluster != "from-flag" || c.NoKube || c.Kubeconfig != "/k" || c.TokenFile != "/tmp/token" {
		t.Fatalf("flags over the environment: %+v", c)
	}
}

func TestParseFlagsErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		args      []string
		env       map[string]string
		wantInErr string
	}{
		{"nothing", nil, nil, "missing --cluster, --herald-url, --token-file"},
		{"no token file", required[:2], nil, "missing --token-file"},
		{"empty buffer dir", append(required, "--buffer-dir="), nil, "missing --buffer-dir"},
		{"empty env is not a value", required[1:], map[string]string{"FORWARDER_HERALD_URL": ""}, "missing --herald-url"},
		{"bad env value", required, map[string]string{"FORWARDER_SEND_WORKERS": "many"}, "FORWARDER_SEND_WORKERS"},
		{"unknown flag", append(required, "--events-addr=x"), nil, "events-addr"},
		{"positional argument", append(required, "serve"), nil, `unexpected argument "serve"`},
		{"URL without scheme", []string{"--herald-url=herald.example.com", required[1], required[2]}, nil, "--herald-url"},
		{"URL of another scheme", []string{"--herald-url=ftp://herald.example.com/", required[1], required[2]}, nil, "--herald-url"},
		{"URL without host", []string{"--herald-url=https:///x", required[1], required[2]}, nil, "--herald-url"},
		{"URL with a query", []string{"--herald-url=https://h/?stage=prod", required[1], required[2]}, nil, "query"},
		{"URL with a fragment", []string{"--herald-url=https://h/#x", required[1], required[2]}, nil, "fragment"},
		{"buffer too small", append(required, "--buffer-max-bytes=1000"), nil, "--buffer-max-bytes"},
		{"no workers", append(required, "--send-workers=0"), nil, "--send-workers"},
		{"zero poll interval", append(required, "--poll-interval=0s"), nil, "--poll-interval"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cleanEnv(t)
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := ParseFlags(c.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), c.wantInErr) {
				t.Fatalf("err = %v, want it to mention %q", err, c.wantInErr)
			}
		})
	}
}

func TestParseFlagsClusterName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"prod", true},
		{"prod-eu-1", true},
		{"a", true},
		{"0", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"Prod", false},
		{"-prod", false},
		{"prod-", false},
		{"prod_eu", false},
		{"prod.eu", false},
		{"prod eu", false},
		{"prød", false},
		{"REPLACE-ME", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cleanEnv(t)
			_, err := ParseFlags([]string{required[0], "--cluster=" + c.name, required[2]}, io.Discard)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok && (err == nil || !strings.Contains(err.Error(), "--cluster")) {
				t.Fatalf("err = %v, want a --cluster error", err)
			}
		})
	}
}

func TestParseFlagsHelp(t *testing.T) {
	cleanEnv(t)
	var out strings.Builder
	_, err := ParseFlags([]string{"-h"}, &out)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("err = %v, want ErrHelp", err)
	}
	for _, f := range []string{"-addr", "-herald-url", "-cluster", "-token-file", "-buffer-dir", "-no-kube"} {
		if !strings.Contains(out.String(), f) {
			t.Errorf("usage lacks %s:\n%s", f, out.String())
		}
	}
}

func TestParseFlagsServerLimits(t *testing.T) {
	cleanEnv(t)
	c, err := ParseFlags(append(required, "--write-timeout=5s", "--max-connections=16"), io.Discard)
	if err != nil || c.WriteTimeout != 5*time.Second || c.MaxConnections != 16 {
		t.Fatalf("config %+v, %v", c, err)
	}
	for _, bad := range []string{"--write-timeout=0", "--max-connections=0", "--max-connections=-1"} {
		if _, err := ParseFlags(append(required, bad), io.Discard); err == nil || !strings.Contains(err.Error(), "must be positive") {
			t.Errorf("%s: %v, want it refused", bad, err)
		}
	}
}

func TestParseFlagsTLS(t *testing.T) {
	cleanEnv(t)
	c, err := ParseFlags(append(required, "--tls-cert-file=/tls/tls.crt", "--tls-key-file=/tls/tls.key"), io.Discard)
	if err != nil || c.TLSCertFile != "/tls/tls.crt" || c.TLSKeyFile != "/tls/tls.key" {
		t.Fatalf("config %+v, %v", c, err)
	}
	t.Setenv("FORWARDER_TLS_CERT_FILE", "/env/tls.crt")
	t.Setenv("FORWARDER_TLS_KEY_FILE", "/env/tls.key")
	if c, err := ParseFlags(required, io.Discard); err != nil || c.TLSCertFile != "/env/tls.crt" || c.TLSKeyFile != "/env/tls.key" {
		t.Fatalf("from the environment: %+v, %v", c, err)
	}
	cleanEnv(t)
	for _, one := range []string{"--tls-cert-file=/tls/tls.crt", "--tls-key-file=/tls/tls.key"} {
		if _, err := ParseFlags(append(required, one), io.Discard); err == nil || !strings.Contains(err.Error(), "go together") {
			t.Errorf("%s alone: %v, want it refused", one, err)
		}
	}
}
