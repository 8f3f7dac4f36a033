package sqsqueue_test

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/heraldhq/herald/internal/awstest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/generic"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
	"github.com/heraldhq/herald/pkg/secrets"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

// wantRetried checks that the message of jobID was reported failed with its
// visibility set to delay, in goaws too, nothing was dead-lettered, and the
// claim was released for the retry.
func (e *env) wantRetried(t *testing.T, resp []string, msgID, jobID string, delay int32) {
	t.Helper()
	if !slices.Equal(resp, []string{msgID}) {
		t.Fatalf("batchItemFailures %v, want the message retried", resp)
	}
	vis := e.sqs.CallsOf("ChangeMessageVisibility")
	if len(vis) != 1 || *vis[0].VisibilityTimeout != delay {
		t.Fatalf("ChangeMessageVisibility %+v, want one of %d s", vis, delay)
	}
	e.wantHiddenFor(t, msgID, time.Duration(delay)*time.Second)
	if n := len(e.sqs.CallsOf("SendMessage")); n != 0 || len(e.sqs.Messages(e.dlqURL)) != 0 {
		t.Fatalf("%d messages dead-lettered", n)
	}
	r, _ := e.store.ClaimDelivery(context.Background(), jobID, time.Minute)
	if r.State != store.Claimed {
		t.Fatalf("%s is %s after the attempt, want its claim released", jobID, r.State)
	}
	if err := e.store.ReleaseDelivery(context.Background(), jobID, r.Token); err != nil {
		t.Fatal(err)
	}
}

// A delivery that arrives before the dispatch Lambda has loaded any config
// (its table unreadable) is retried on the back-off schedule: no panic, and
// no claim left held until its lease runs out.
func TestHandleBeforeConfigLoaded(t *testing.T) {
	e := newEnv(t)
	missing := dynamo.New(e.db, "no-such-table", dynamo.Options{Now: func() time.Time { return e.now }, Logger: slog.New(slog.DiscardHandler)})
	source := config.NewCached(missing, notifiers.New(generic.New), config.CachedOptions{
		TTL: time.Minute, Now: func() time.Time { return e.now }, Logger: slog.New(slog.DiscardHandler),
	})
	e.handler.Deliverer.Targets = config.Targets(source)

	rec := e.receive(body(t, job("j-early", "ok")), 1)
	e.wantRetried(t, failedIDs(e.handle(t, rec)), rec.MessageId, "j-early", 2)
	if logs := e.logs.String(); strings.Contains(logs, "panicked") || !strings.Contains(logs, "config not loaded yet") {
		t.Fatalf("logs:\n%s", logs)
	}
}

// panicking is a notifier with a bug.
type panicking struct{}

func (panicking) Notify(context.Context, event.Event) (bool, error) { panic("notifier bug") }

// A panic during the attempt fails only its message, and frees its claim
// at once so that the retry is not held back for a lease.
func TestHandlePanicReleasesTheClaim(t *testing.T) {
	e := newEnv(t)
	e.handler.Deliverer.Targets = func(delivery.ProviderRef) (delivery.Target, error) {
		return delivery.Target{Notifier: panicking{}}, nil
	}
	rec := e.receive(body(t, job("j-panic", "ok")), 1)
	if got := failedIDs(e.handle(t, rec)); !slices.Equal(got, []string{rec.MessageId}) {
		t.Fatalf("batchItemFailures %v", got)
	}
	if r, _ := e.store.ClaimDelivery(context.Background(), "j-panic", time.Minute); r.State != store.Claimed {
		t.Fatalf("j-panic is %s after a panic, want its claim released", r.State)
	}
}

// staticConfig serves one snapshot.
type staticConfig struct{ snap *config.Snapshot }

func (c staticConfig) Snapshot() *config.Snapshot { return c.snap }

// secretEnv is env with its Targets resolved in a config snapshot whose
// Providers read their address from Secrets Manager (a double, as there is
// no emulator of it): "ok" from
// the secret "hook", "orphan" from the secret "missing", which does not
// exist.
func secretEnv(t *testing.T) (*env, *awstest.SecretsManager) {
	t.Helper()
	e := newEnv(t)
	sm := awstest.NewSecretsManager(t)
	sm.Set("herald/flux-system/hook", `{"address": "`+e.sink.URL+`/ok"}`)
	// One SDK attempt per read, so that a throttled read fails at once.
	manager := secrets.New(sm.Client(func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }), secrets.Options{})
	cfg := &api.Config{}
	for name, secret := range map[string]string{"ok": "hook", "orphan": "missing"} {
		cfg.Providers = append(cfg.Providers, api.Provider{
			TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1beta3", Kind: api.KindProvider},
			Metadata: api.ObjectMeta{Namespace: "flux-system", Name: name},
			Spec:     api.ProviderSpec{Type: "generic", SecretRef: &api.LocalObjectReference{Name: secret}},
		})
	}
	snap, err := config.NewSnapshot(cfg, notifiers.New(generic.New), config.SnapshotOptions{Secrets: manager.Lookup})
	if err != nil {
		t.Fatal(err)
	}
	e.handler.Deliverer.Targets = config.Targets(staticConfig{snap})
	return e, sm
}

// A throttled secret read fails one attempt, retryably; the next attempt,
// in the same config snapshot, reads the secret again and delivers.
func TestHandleSecretReadThrottled(t *testing.T) {
	e, sm := secretEnv(t)
	sm.FailWith = func(string, string) (int, string) { return 400, "ThrottlingException" }
	b := body(t, job("j-throttled", "ok"))
	rec := e.receive(b, 1)
	e.wantRetried(t, failedIDs(e.handle(t, rec)), rec.MessageId, "j-throttled", 2)

	sm.FailWith = nil
	e.sqs.Reset()
	if resp := e.handle(t, e.redeliver(rec, 2)); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry failed: %v\n%s", failedIDs(resp), e.logs)
	}
	if n := e.posts("/ok"); n != 1 {
		t.Fatalf("%d posts, want 1", n)
	}
}

// A secret that does not exist cannot appear by retrying: the job goes to
// the DLQ at once, with the reason.
func TestHandleSecretMissingGoesToDLQ(t *testing.T) {
	e, _ := secretEnv(t)
	rec := e.receive(body(t, job("j-orphan", "orphan")), 1)
	if resp := e.handle(t, rec); len(resp.BatchItemFailures) != 0 {
		t.Fatalf("batchItemFailures %v; a dead-lettered message is acknowledged", failedIDs(resp))
	}
	sends := e.sqs.CallsOf("SendMessage")
	if len(sends) != 1 || sends[0].QueueURL != e.dlqURL {
		t.Fatalf("SendMessage calls %+v, want one to the DLQ", sends)
	}
	const want = "provider unavailable: failed to get secret 'flux-system/missing': secret 'flux-system/missing' not found"
	dead := e.sqs.Messages(e.dlqURL)
	if len(dead) != 1 || dead[0].Attributes[sqsqueue.AttrFailureReason].String() != want {
		t.Fatalf("the DLQ holds %+v, want the job with the failure reason %q", dead, want)
	}
}
