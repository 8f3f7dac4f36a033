package googlepubsub_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/googlepubsub"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// referenceBody is the generic provider's body of the behaviour reference
// §4.2, which Pub/Sub carries as the message data.
const referenceBody = `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"podinfo","uid":"7d0cdc51-ddcf-4743-b223-83ca5c699632","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},"severity":"info","timestamp":"2024-05-06T07:08:09Z","message":"Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07","reason":"ReconciliationSucceeded","metadata":{"revision":"main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"},"reportingController":"kustomize-controller","reportingInstance":"kustomize-controller-7c7b47f5f-8bhrp"}`

const (
	project = "my-project"
	topic   = "flux-events"
)

// fake starts Google's in-memory Pub/Sub server (pstest) with the topic.
func fake(t *testing.T, opts ...pstest.ServerReactorOption) *pstest.Server {
	t.Helper()
	srv := pstest.NewServer(opts...)
	t.Cleanup(func() { _ = srv.Close() })
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: "projects/" + project + "/topics/" + topic}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func newNotifier(t *testing.T, addr string, cfg notify.Config) notify.Notifier {
	t.Helper()
	if cfg.Address == "" {
		cfg.Address = project
	}
	if cfg.Channel == "" {
		cfg.Channel = topic
	}
	n, err := googlepubsub.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	n.(*googlepubsub.Notifier).ClientOptions = []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	return n
}

func TestPublish(t *testing.T) {
	for _, tc := range []struct {
		severity string
		metadata bool
		headers  map[string]notify.Secret
	}{
		{event.SeverityInfo, true, nil},
		{event.SeverityError, false, nil},
		{event.SeverityInfo, true, map[string]notify.Secret{"team": "platform", "env": "prod"}},
	} {
		t.Run(fmt.Sprintf("%s-%v-%d", tc.severity, tc.metadata, len(tc.headers)), func(t *testing.T) {
			srv := fake(t)
			n := newNotifier(t, srv.Addr, notify.Config{Headers: tc.headers})
			ev := notifytest.ReferenceEvent(tc.severity, tc.metadata)
			if _, err := n.Notify(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			msgs := srv.Messages()
			if len(msgs) != 1 {
				t.Fatalf("%d messages", len(msgs))
			}
			m := msgs[0]
			want, _ := json.Marshal(ev)
			if string(m.Data) != string(want) {
				t.Errorf("data:\n got %s\nwant %s", m.Data, want)
			}
			if tc.severity == event.SeverityInfo && tc.metadata && string(m.Data) != referenceBody {
				t.Errorf("data is not the reference body: %s", m.Data)
			}
			if m.Topic != "projects/my-project/topics/flux-events" {
				t.Errorf("topic %s", m.Topic)
			}
			if len(m.Attributes) != len(tc.headers) {
				t.Errorf("attributes %v, want %v", m.Attributes, tc.headers)
			}
			for k, v := range tc.headers {
				if m.Attributes[k] != v.Reveal() {
					t.Errorf("attribute %s = %q", k, m.Attributes[k])
				}
			}
		})
	}
}

// The client is built once and serves later events.
func TestClientReused(t *testing.T) {
	srv := fake(t)
	n := newNotifier(t, srv.Addr, notify.Config{})
	for range 3 {
		if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
			t.Fatal(err)
		}
	}
	if got := len(srv.Messages()); got != 3 {
		t.Errorf("%d messages", got)
	}
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name      string
		inject    codes.Code
		topic     string
		wantRetry bool
	}{
		{name: "unavailable", inject: codes.Unavailable, wantRetry: true},
		{name: "resource exhausted", inject: codes.ResourceExhausted, wantRetry: true},
		{name: "internal", inject: codes.Internal, wantRetry: true},
		{name: "permission denied", inject: codes.PermissionDenied},
		{name: "unauthenticated", inject: codes.Unauthenticated},
		{name: "invalid argument", inject: codes.InvalidArgument},
		{name: "topic not found", topic: "missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var opts []pstest.ServerReactorOption
			if tc.inject != codes.OK {
				opts = append(opts, pstest.WithErrorInjection("Publish", tc.inject, "injected"))
			}
			srv := fake(t, opts...)
			n := newNotifier(t, srv.Addr, notify.Config{Channel: tc.topic})
			retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
			if err == nil || retry != tc.wantRetry {
				t.Fatalf("retry=%v err=%v, want retry %v", retry, err, tc.wantRetry)
			}
		})
	}
	t.Run("server down", func(t *testing.T) {
		srv := fake(t)
		addr := srv.Addr
		_ = srv.Close()
		retry, err := newNotifier(t, addr, notify.Config{}).Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
		if err == nil || !retry {
			t.Fatalf("retry=%v err=%v, want retryable", retry, err)
		}
	})
}

// serviceAccountJSON is a service-account key file with a fresh key.
func serviceAccountJSON(t *testing.T) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	b, _ := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": "s3cr3t-key-id",
		"private_key":    string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":   "flux@my-project.iam.gserviceaccount.com",
		"client_id":      "1",
		"token_uri":      "https://oauth2.googleapis.com/token",
	})
	return string(b)
}

// The token is read as credentials in New, so a malformed one fails at
// load time without quoting it. (pstest serves plain gRPC, over which
// gRPC refuses to send credentials, so the RPCs above run unauthenticated.)
func TestCredentials(t *testing.T) {
	if _, err := googlepubsub.New(notify.Config{Address: project, Channel: topic, Token: notify.Secret(serviceAccountJSON(t))}); err != nil {
		t.Errorf("service account: %v", err)
	}
	for _, token := range []string{"s3cr3t-not-json", `{"type":"s3cr3t-type"}`, `{"type":"service_account","private_key":"s3cr3t"}`} {
		_, err := googlepubsub.New(notify.Config{Address: project, Channel: topic, Token: notify.Secret(token)})
		if err == nil || !strings.HasPrefix(err.Error(), "invalid GCP credentials in secret token") {
			t.Errorf("%s: err = %v", token, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("err leaks the token: %v", err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  notify.Config
		want string
	}{
		{notify.Config{Channel: topic}, "GCP project ID cannot be empty"},
		{notify.Config{Address: project}, "GCP Pub/Sub topic ID cannot be empty"},
	} {
		if _, err := googlepubsub.New(tc.cfg); err == nil || err.Error() != tc.want {
			t.Errorf("err = %v, want %q", err, tc.want)
		}
	}
}

// Header values (message attributes) never reach an error.
func TestNoSecretLeak(t *testing.T) {
	srv := fake(t, pstest.WithErrorInjection("Publish", codes.InvalidArgument, "rejected "+notifytest.LeakHeader))
	n := newNotifier(t, srv.Addr, notify.Config{Headers: map[string]notify.Secret{"key": notifytest.LeakHeader}})
	_, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))
	if err == nil || strings.Contains(err.Error(), notifytest.LeakHeader) || strings.Contains(fmt.Sprintf("%#v", err), notifytest.LeakHeader) {
		t.Errorf("err = %v", err)
	}
}
