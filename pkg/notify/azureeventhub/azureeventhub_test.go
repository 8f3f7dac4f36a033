package azureeventhub_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/azureeventhub"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// These tests cover everything up to the AMQP send, which no test
// exercises: there is no Event Hubs emulator on this machine.

func connectionString(endpoint, key string) string {
	return "Endpoint=sb://" + endpoint + "/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=" + key + ";EntityPath=flux"
}

func TestNamespace(t *testing.T) {
	tests := []struct{ channel, authority, want string }{
		{"flux", "", "flux.servicebus.windows.net"},
		{"flux", "https://login.microsoftonline.com/", "flux.servicebus.windows.net"},
		{"flux", "https://login.chinacloudapi.cn/", "flux.servicebus.chinacloudapi.cn"},
		{"flux", "https://login.microsoftonline.us/", "flux.servicebus.usgovcloudapi.net"},
		{"flux.servicebus.windows.net", "https://login.chinacloudapi.cn/", "flux.servicebus.windows.net"},
		{"flux.servicebus.cloudapi.de", "", "flux.servicebus.cloudapi.de"},
	}
	for _, tc := range tests {
		if got := azureeventhub.Namespace(tc.channel, tc.authority); got != tc.want {
			t.Errorf("Namespace(%q, %q) = %q, want %q", tc.channel, tc.authority, got, tc.want)
		}
	}
}

func TestIsConnectionString(t *testing.T) {
	if !azureeventhub.IsConnectionString(connectionString("ns.servicebus.windows.net", "k")) {
		t.Error("connection string not recognised")
	}
	if azureeventhub.IsConnectionString("flux-hub") {
		t.Error("hub name taken for a connection string")
	}
}

// The SDK builds its clients without dialling: these namespaces do not
// resolve here, and New still succeeds at once.
func TestNewBuildsWithoutNetwork(t *testing.T) {
	for name, cfg := range map[string]notify.Config{
		"connection string": {Address: notify.Secret(connectionString("herald-test.servicebus.windows.net", "a2V5"))},
		"hub and JWT":       {Address: "flux", Channel: "herald-test", Token: "header.payload.signature"},
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			n, err := azureeventhub.New(cfg)
			if err != nil || n == nil {
				t.Fatalf("New: %v", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("New took %v", d)
			}
			// A producer that never connected closes at once.
			if err := n.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	const key = "s3cr3t-sas-key-value"
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"SAS and token", notify.Config{Address: notify.Secret(connectionString("ns.servicebus.windows.net", key)), Token: "jwt"},
			"invalid authentication options: jwt token and SAS authentication cannot be set at the same time"},
		{"SAS without EntityPath", notify.Config{Address: notify.Secret("Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=k;SharedAccessKey=" + key)},
			"failed to create a eventhub using SAS: connection string does not contain an EntityPath. eventHub cannot be an empty string"},
		{"malformed SAS", notify.Config{Address: notify.Secret("SharedAccessKey" + key)},
			"failed to create a eventhub using SAS: failed parsing connection string due to unmatched key value separated by '='"},
		{"no address", notify.Config{Channel: "ns", Token: "jwt"}, "invalid address: the Event Hub name or a connection string is required"},
		{"no namespace", notify.Config{Address: "flux", Token: "jwt"}, "invalid channel: the Event Hubs namespace is required"},
		{"no token", notify.Config{Address: "flux", Channel: "ns"},
			"failed to create a eventhub using authentication token: the secret has no token; workload identity is not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := azureeventhub.New(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("err leaks the key: %v", err)
			}
		})
	}
}

// A refused connection is retryable, and its error holds neither the key
// nor the address.
func TestConnectionRefused(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	endpoint := l.Addr().String()
	l.Close()
	n, err := azureeventhub.New(notify.Config{Address: notify.Secret(connectionString(endpoint, notifytest.LeakToken))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	retry, err := n.Notify(ctx, notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || !retry {
		t.Fatalf("retry=%v err=%v, want retryable", retry, err)
	}
	t.Logf("error: %v", err)
	for _, text := range []string{err.Error(), fmt.Sprintf("%#v", err)} {
		if strings.Contains(text, notifytest.LeakToken) {
			t.Errorf("error leaks the key: %s", text)
		}
	}
}
