package lambdatest_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/internal/awstest"
	"github.com/heraldhq/herald/internal/dynamotest"
	"github.com/heraldhq/herald/internal/lambdatest"
	"github.com/heraldhq/herald/internal/sqstest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/lambdamux"
	"github.com/heraldhq/herald/pkg/metrics/emf"
	"github.com/heraldhq/herald/pkg/metrics/emf/emftest"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/server"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

func TestMain(m *testing.M) { dynamotest.Main(m) }

const (
	dispatchPkg = "github.com/heraldhq/herald/functions/dispatch"
	receiverPkg = "github.com/heraldhq/herald/functions/receiver"

	ns           = "flux-system"
	cluster      = "prod"
	clusterToken = "prod-forwarder-token-5c2e9a71d04b"
	githubToken  = "github-webhook-token-8e41f0c3b7d2"
	revision     = "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"

	// The Lambda binaries' budget: size and cold start. cel-go, which
	// commitStatusExpr needs, costs dispatch about 8.5 MB (README, "Binary
	// size"); dispatch is 23.7 MB with it. The cold start stays within its
	// budget.
	maxBinaryBytes = 25_000_000 // 25 MB, stripped linux/arm64
	maxColdStart   = 50 * time.Millisecond
	// The budget is on the median of the starts for GET /healthz; 21 of
	// them (the issue asked for at least 10) keep the median of a start
	// that varies by ±6 ms on this machine from deciding the test by luck.
	healthStarts = 21
	coldStarts   = 10
)

// TestFunctions builds the two bootstrap binaries as the Makefile does and
// drives them through the Lambda Runtime API with the events API Gateway
// and SQS send, against DynamoDB Local, the goaws SQS emulator and the
// Secrets Manager double. One parent test owns the build folder, so the
// binaries are built once and removed at the end. goaws' state is global:
// no subtest may call t.Parallel.
func TestFunctions(t *testing.T) {
	b := lambdatest.NewBuilder(t.TempDir())
	// All four builds run while DynamoDB Local starts, and are done before
	// anything is timed.
	var wg sync.WaitGroup
	for _, pkg := range []string{dispatchPkg, receiverPkg} {
		for _, target := range []lambdatest.Target{lambdatest.Host(), lambdatest.Lambda} {
			wg.Go(func() { _, _ = b.Build(pkg, target) })
		}
	}
	dynamotest.Shared(t)
	wg.Wait()

	t.Run("BinarySizes", func(t *testing.T) { testBinarySizes(t, b) })
	t.Run("ColdStart", func(t *testing.T) { testColdStart(t, b) })
	t.Run("DispatchHTTP", func(t *testing.T) { testDispatchHTTP(t, b) })
	t.Run("DispatchReplay", func(t *testing.T) { testDispatchReplay(t, b) })
	t.Run("DispatchSQS", func(t *testing.T) { testDispatchSQS(t, b) })
	t.Run("DispatchSQSCommitStatus", func(t *testing.T) { testDispatchSQSCommitStatus(t, b) })
	t.Run("DispatchSQSOutageSoak", func(t *testing.T) { testDispatchSQSOutageSoak(t, b) })
	t.Run("Receiver", func(t *testing.T) { testReceiver(t, b) })
	t.Run("ReceiverOIDC", func(t *testing.T) { testReceiverOIDC(t, b) })
	t.Run("ReceiverTypes", func(t *testing.T) { testReceiverTypes(t, b) })
	t.Run("InitFailure", func(t *testing.T) { testInitFailure(t, b) })
}

func testBinarySizes(t *testing.T, b *lambdatest.Builder) {
	for _, pkg := range []string{dispatchPkg, receiverPkg} {
		fi, err := os.Stat(b.MustBuild(t, pkg, lambdatest.Lambda))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: stripped linux/arm64 bootstrap is %d bytes (%.2f MB, %.2f MiB)",
			filepath.Base(pkg), fi.Size(), float64(fi.Size())/1e6, float64(fi.Size())/(1<<20))
		if fi.Size() > maxBinaryBytes {
			t.Errorf("%s: %d bytes, want at most %d", filepath.Base(pkg), fi.Size(), maxBinaryBytes)
		}
	}
}

// testColdStart starts the dispatch binary again and again and times process
// start to the first response: for GET /healthz, which makes no AWS call,
// and for a signed event, which loads the config and the cluster token and
// writes the dedup record and the job.
func testColdStart(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	st.seedDispatch(t, "/ok")
	bin := b.MustBuild(t, dispatchPkg, lambdatest.Host())
	healthz := httpEvent(t, "http-api-v2-healthz.json").json(t)

	// The starts for GET /healthz come first, all of them: a signed event
	// makes DynamoDB Local's JVM compile and collect for a while after it
	// answers, and that work, on the machine's two cores, is not the
	// function's.
	var health, ingest []time.Duration
	for range healthStarts {
		f := lambdatest.Start(t, bin, st.env(true))
		resp := invokeHTTP(t, f, healthz)
		health = append(health, time.Since(f.Started))
		f.Stop()
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Body, `"status":"ok"`) {
			t.Fatalf("GET /healthz: %d %s", resp.StatusCode, resp.Body)
		}
	}
	for i := range coldStarts {
		signed := st.ingestEvent(t, fluxEvent("cold start "+strconv.Itoa(i)), true).json(t)
		f := lambdatest.Start(t, bin, st.env(true))
		resp := invokeHTTP(t, f, signed)
		ingest = append(ingest, time.Since(f.Started))
		f.Stop()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("signed event: %d %s", resp.StatusCode, resp.Body)
		}
	}
	t.Logf("dispatch cold start to the first response: GET /healthz median of %d %v (min %v, max %v); "+
		"signed event median of %d %v (min %v, max %v)", healthStarts,
		median(health), slices.Min(health), slices.Max(health), coldStarts, median(ingest), slices.Min(ingest), slices.Max(ingest))
	if m := median(health); m > maxColdStart {
		t.Errorf("median cold start %v, want under %v", m, maxColdStart)
	}
}

func testDispatchHTTP(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	st.seedDispatch(t, "/ok")
	f := lambdatest.Start(t, b.MustBuild(t, dispatchPkg, lambdatest.Host()), st.env(true))
	body := fluxEvent("Deployment/apps/podinfo configured")

	// A signed event: accepted, one job queued with the combined metadata.
	st.ddb.Reset()
	resp := invokeHTTP(t, f, st.ingestEvent(t, body, true).json(t))
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed event: status %d %s, want 202", resp.StatusCode, resp.Body)
	}
	cold := st.ddb.Counts()
	batches := st.sqs.CallsOf("SendMessageBatch")
	if len(batches) != 1 || batches[0].QueueURL != st.queueURL || len(batches[0].Entries) != 1 {
		t.Fatalf("SendMessageBatch calls %+v, want one with one entry on %s", batches, st.queueURL)
	}
	if got := st.sqs.Bodies(st.queueURL); !slices.Equal(got, []string{batches[0].Entries[0].Body}) {
		t.Fatalf("the delivery queue holds %d messages, want the one job sent", len(got))
	}
	var job delivery.Job
	if err := json.Unmarshal([]byte(batches[0].Entries[0].Body), &job); err != nil {
		t.Fatalf("queued body is not a delivery.Job: %v\n%s", err, batches[0].Entries[0].Body)
	}
	wantMeta := map[string]string{"revision": revision, "deploymentID": "d-42", "env": "lambda", "cluster": cluster}
	if !maps.Equal(job.Event.Metadata, wantMeta) {
		t.Errorf("job metadata %v, want %v", job.Event.Metadata, wantMeta)
	}
	if len(job.ID) != 64 || job.Provider != (delivery.ProviderRef{Namespace: ns, Name: "webhook"}) ||
		job.ProviderType != "generic" || job.Alert != ns+"/kustomizations" || job.Attempt != 0 ||
		job.Event.InvolvedObject.Kind != "Kustomization" || job.Event.InvolvedObject.Name != "podinfo" ||
		job.Event.Message != "Deployment/apps/podinfo configured" || job.Event.Reason != "ReconciliationSucceeded" {
		t.Errorf("job %+v", job)
	}

	// Unsigned: 401 with a JSON error, nothing queued.
	resp = invokeHTTP(t, f, st.ingestEvent(t, body, false).json(t))
	var errBody struct{ Error string }
	if resp.StatusCode != http.StatusUnauthorized || header(resp, "Content-Type") != "application/json" ||
		json.Unmarshal([]byte(resp.Body), &errBody) != nil || errBody.Error == "" {
		t.Errorf("unsigned event: %d %v %s, want 401 with a JSON error", resp.StatusCode, resp.Headers, resp.Body)
	}

	// The same event again: a duplicate.
	st.ddb.Reset()
	resp = invokeHTTP(t, f, st.ingestEvent(t, body, true).json(t))
	if resp.StatusCode != http.StatusTooManyRequests || header(resp, "Retry-After") == "" {
		t.Errorf("duplicate event: %d %v %s, want 429 with Retry-After", resp.StatusCode, resp.Headers, resp.Body)
	}
	duplicate := st.ddb.Counts()
	if n := len(st.sqs.CallsOf("SendMessageBatch")); n != 1 || len(st.sqs.Messages(st.queueURL)) != 1 {
		t.Errorf("%d SendMessageBatch calls after the duplicate, want still 1", n)
	}

	// Another event on the warm function: the steady-state cost.
	st.ddb.Reset()
	resp = invokeHTTP(t, f, st.ingestEvent(t, fluxEvent("Deployment/apps/podinfo unchanged"), true).json(t))
	if resp.StatusCode != http.StatusAccepted {
		t.Errorf("second event: %d %s, want 202", resp.StatusCode, resp.Body)
	}
	warm := st.ddb.Counts()
	if n := len(st.sqs.Messages(st.queueURL)); n != 2 {
		t.Errorf("the delivery queue holds %d messages after the second event, want 2", n)
	}
	t.Logf("DynamoDB requests per ingested event: first (cold, loads the config) %v; warm %v; duplicate %v",
		cold, warm, duplicate)

	// Each measurement is an EMF line on stdout, which CloudWatch Logs
	// turns into metrics: three valid events (one a duplicate) and the
	// unsigned one.
	waitEMF(t, f, map[string]float64{
		"EventsReceived":                         3,
		"EventsDuplicate":                        1,
		"EventsRejected{reason=unauthenticated}": 1,
	})
	if strings.Contains(f.Output(), clusterToken) {
		t.Error("the function's output contains the cluster token")
	}

	// A payload of another trigger is an invocation error, and the
	// function serves on.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := f.Invoke(ctx, []byte(`{"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}`))
	var fe *lambdatest.FunctionError
	if !errors.As(err, &fe) || fe.Message != lambdamux.ErrUnknownEvent.Error() {
		t.Errorf("S3 event: err = %v, want the function error %q", err, lambdamux.ErrUnknownEvent)
	}
	if resp := invokeHTTP(t, f, httpEvent(t, "http-api-v2-healthz.json").json(t)); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz after the error: %d %s", resp.StatusCode, resp.Body)
	}
}

// testDispatchReplay: the dispatch binary, on DynamoDB Local, accepts a
// signed event once. Its exact replay is refused with 401 "replayed
// request" at once (not the duplicate's 429) and after the event's
// de-duplication window has ended (when, before, it was queued again),
// and the event signed anew is an ordinary duplicate. The signature is
// recorded in the same request as the claim: a warm accepted event costs
// one DynamoDB request, as before.
func testDispatchReplay(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	st.seedDispatch(t, "/ok")
	f := lambdatest.Start(t, b.MustBuild(t, dispatchPkg, lambdatest.Host()), st.env(true))
	// A first event warms the function: config and cluster token loaded.
	if resp := invokeHTTP(t, f, st.ingestEvent(t, fluxEvent("warm-up"), true).json(t)); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("warm-up event: %d %s", resp.StatusCode, resp.Body)
	}

	body := fluxEvent("Deployment/apps/podinfo replayed")
	captured := st.ingestEvent(t, body, true)
	payload := captured.json(t)
	st.ddb.Reset()
	if resp := invokeHTTP(t, f, payload); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("signed event: %d %s, want 202", resp.StatusCode, resp.Body)
	}
	if got := st.ddb.Counts(); got["total"] != 1 || got["TransactWriteItems"] != 1 {
		t.Errorf("DynamoDB requests for a warm accepted event: %v, want one TransactWriteItems", got)
	}
	queued := len(st.sqs.Messages(st.queueURL))
	if queued != 2 {
		t.Fatalf("%d messages queued, want 2 (warm-up and the event)", queued)
	}

	// The signature's item: its key and its TTL, the timestamp plus the skew.
	headers := captured["headers"].(map[string]any)
	sig := strings.TrimPrefix(headers["x-signature"].(string), "sha256=")
	ts, _ := strconv.ParseInt(headers["x-herald-timestamp"].(string), 10, 64)
	out, err := st.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(st.table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "replay#" + cluster + "/" + sig},
			"sk": &types.AttributeValueMemberS{Value: "replay"},
		},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("no replay item for the accepted event's signature: %v", err)
	}
	if exp, ok := out.Item["expiresAt"].(*types.AttributeValueMemberN); !ok || exp.Value != strconv.FormatInt(ts+301, 10) {
		t.Errorf("replay item expiresAt = %v, want %d (timestamp + 5 min + 1 s)", out.Item["expiresAt"], ts+301)
	}

	replayed := func(what string) {
		t.Helper()
		resp := invokeHTTP(t, f, payload)
		var e struct{ Error string }
		if resp.StatusCode != http.StatusUnauthorized || json.Unmarshal([]byte(resp.Body), &e) != nil || e.Error != "replayed request" {
			t.Fatalf("%s: %d %s, want 401 {\"error\":\"replayed request\"}", what, resp.StatusCode, resp.Body)
		}
	}
	replayed("the replay at once")
	if resp := invokeHTTP(t, f, st.ingestEvent(t, body, true).json(t)); resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the event signed anew: %d %s, want 429 as a duplicate", resp.StatusCode, resp.Body)
	}

	// The window ends (as with a rate-limit interval shorter than the
	// skew, or once DynamoDB's TTL has deleted it): its item goes.
	for _, it := range st.scanPrefix(t, "dedup#") {
		if _, err := st.client.DeleteItem(context.Background(), &dynamodb.DeleteItemInput{
			TableName: aws.String(st.table),
			Key: map[string]types.AttributeValue{
				"pk": &types.AttributeValueMemberS{Value: it["pk"]},
				"sk": &types.AttributeValueMemberS{Value: it["sk"]},
			},
		}); err != nil {
			t.Fatal(err)
		}
	}
	replayed("the replay after the window")
	if n := len(st.sqs.Messages(st.queueURL)); n != queued {
		t.Errorf("%d messages queued after the replays, want still %d", n, queued)
	}
	// Five valid events: the warm-up, the event, its two replays and its
	// duplicate.
	waitEMF(t, f, map[string]float64{
		"EventsReceived":                  5,
		"EventsDuplicate":                 1,
		"EventsRejected{reason=replayed}": 2,
	})
}

// scanPrefix reads the string attributes of the items whose pk starts with
// prefix.
func (st *stack) scanPrefix(t *testing.T, prefix string) []map[string]string {
	t.Helper()
	out, err := st.client.Scan(context.Background(), &dynamodb.ScanInput{
		TableName:                 aws.String(st.table),
		FilterExpression:          aws.String("begins_with(pk, :p)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":p": &types.AttributeValueMemberS{Value: prefix}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]string
	for _, it := range out.Items {
		items = append(items, stringAttrs(it))
	}
	return items
}

// testInitFailure starts dispatch without its queue URLs: it must exit
// during init, saying why, before taking an invocation.
func testInitFailure(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	var env []string
	for _, kv := range st.env(true) {
		if !strings.HasPrefix(kv, "HERALD_QUEUE_URL=") {
			env = append(env, kv)
		}
	}
	f := lambdatest.Start(t, b.MustBuild(t, dispatchPkg, lambdatest.Host()), env)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := f.Invoke(ctx, httpEvent(t, "http-api-v2-healthz.json").json(t))
	if !errors.Is(err, lambdatest.ErrExited) || !strings.Contains(f.Output(), "HERALD_QUEUE_URL and HERALD_DLQ_URL are required") {
		t.Errorf("without HERALD_QUEUE_URL: err = %v; output:\n%s", err, f.Output())
	}
}

func testDispatchSQS(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	for name, path := range map[string]string{"ok": "/ok", "busy": "/busy", "bad": "/bad"} {
		st.putProvider(t, name, path)
	}
	f := lambdatest.Start(t, b.MustBuild(t, dispatchPkg, lambdatest.Host()), st.env(true))
	okJob, busyJob, badJob := st.job("ok"), st.job("busy"), st.job("bad")

	// A batch of two: one delivered, one retried in 2 s.
	okMsg := st.inFlight(t, jobBody(t, okJob))
	busyMsg := st.inFlight(t, jobBody(t, busyJob))
	invoked := [2]time.Time{time.Now()}
	out := invokeSQS(t, f, st.sqsEvent(t, okMsg, busyMsg))
	invoked[1] = time.Now()
	if got := failedIDs(out); !slices.Equal(got, []string{busyMsg.ID}) {
		t.Errorf("batchItemFailures %v, want exactly [%s]", got, busyMsg.ID)
	}
	vis := st.sqs.CallsOf("ChangeMessageVisibility")
	if len(vis) != 1 || vis[0].ReceiptHandle != busyMsg.ReceiptHandle || vis[0].QueueURL != st.queueURL ||
		vis[0].VisibilityTimeout == nil || *vis[0].VisibilityTimeout != 2 {
		t.Errorf("ChangeMessageVisibility calls %+v, want one of 2 s for %s", vis, busyMsg.ReceiptHandle)
	}
	if m := st.message(t, busyMsg.ID); !m.InFlight() || m.VisibleAt.Before(invoked[0].Add(2*time.Second)) || m.VisibleAt.After(invoked[1].Add(2*time.Second)) {
		t.Errorf("goaws holds the retried message in flight %v until %s, want until 2 s after the invocation (%s to %s)", m.InFlight(),
			m.VisibleAt.Format(time.StampMilli), invoked[0].Add(2*time.Second).Format(time.StampMilli), invoked[1].Add(2*time.Second).Format(time.StampMilli))
	}
	wantBody, err := json.Marshal(okJob.Event)
	if err != nil {
		t.Fatal(err)
	}
	okPosts := st.posts("/ok")
	if len(okPosts) != 1 || string(okPosts[0].Body) != string(wantBody) ||
		okPosts[0].Header.Get("Content-Type") != "application/json" ||
		okPosts[0].Header.Get("Gotk-Component") != okJob.Event.ReportingController {
		t.Errorf("the ok provider got %d POSTs, want one with the generic body\n got: %s\nwant: %s", len(okPosts), first(okPosts), wantBody)
	}
	if n := len(st.posts("/busy")); n != 1 {
		t.Errorf("the busy provider got %d POSTs, want 1", n)
	}
	if state := st.item(t, "delivery#"+okJob.ID, "delivery")["state"]; state != "done" {
		t.Errorf("idempotency record of the delivered job: state %q, want done", state)
	}

	// The delivered message again, as SQS redelivers it: acknowledged unsent.
	again := st.redeliver(t, okMsg, 2)
	out = invokeSQS(t, f, st.sqsEvent(t, again))
	if len(out.BatchItemFailures) != 0 {
		t.Errorf("redelivery: batchItemFailures %v, want none", failedIDs(out))
	}
	if n := len(st.posts("/ok")); n != 1 {
		t.Errorf("redelivery posted again: %d POSTs in all, want 1", n)
	}

	// A permanent failure: dead-lettered at once, not a batch failure.
	badMsg := st.inFlight(t, jobBody(t, badJob))
	out = invokeSQS(t, f, st.sqsEvent(t, badMsg))
	if len(out.BatchItemFailures) != 0 {
		t.Errorf("400: batchItemFailures %v, want none", failedIDs(out))
	}
	var dlq []sqstest.Call
	for _, c := range st.sqs.CallsOf("SendMessage") {
		if c.QueueURL == st.dlqURL {
			dlq = append(dlq, c)
		}
	}
	if len(dlq) != 1 {
		t.Fatalf("SendMessage to the DLQ: %+v, want one", dlq)
	}
	dead := st.sqs.Messages(st.dlqURL)
	if len(dead) != 1 || dead[0].Body != jobBody(t, badJob) || len(dead[0].Attributes) != 2 {
		t.Fatalf("the DLQ holds %+v, want the job with two attributes", dead)
	}
	attrs := dead[0].Attributes
	if reason := attrs["herald-failure-reason"]; reason.DataType != "String" || !strings.HasPrefix(reason.String(), delivery.ReasonPermanent) {
		t.Errorf("herald-failure-reason %+v (%q), want a String starting %q", reason, reason.String(), delivery.ReasonPermanent)
	}
	if p := attrs["herald-provider"].String(); p != ns+"/bad" {
		t.Errorf("herald-provider %q, want %s/bad", p, ns)
	}
	if n := len(st.posts("/bad")); n != 1 {
		t.Errorf("the bad provider got %d POSTs, want 1", n)
	}

	// One outcome per attempt and one duration per request sent; the
	// redelivered message was acknowledged without either; the 400 was
	// moved to the DLQ.
	waitEMF(t, f, map[string]float64{
		"DeadLetters": 1,
		"Deliveries{outcome=delivered,provider_type=generic,reason=none}":      1,
		"Deliveries{outcome=retry,provider_type=generic,reason=server_error}":  1,
		"Deliveries{outcome=failed,provider_type=generic,reason=client_error}": 1,
		"DeliveryDuration{provider_type=generic}":                              3,
	})
}

// A commit-status job through the dispatch binary's SQS handler, with the
// Provider in DynamoDB Local and its token in Secrets Manager: the fake
// GitHub gets Flux's list and create calls with the planned status id, and
// an older event of the same status, delivered afterwards, sets nothing.
func testDispatchSQSCommitStatus(t *testing.T, b *lambdatest.Builder) {
	const token = "ghp-lambda-commit-status"
	st := newStack(t)
	gh := githubtest.New(t)
	gh.Token = token
	st.sm.Set("herald/"+ns+"/github-token", `{"token":"`+token+`"}`)
	p := api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1beta3", Kind: api.KindProvider},
		Metadata: api.ObjectMeta{Name: "status", Namespace: ns},
		Spec:     api.ProviderSpec{Type: "github", Address: gh.URL + "/flux/podinfo", SecretRef: &api.LocalObjectReference{Name: "github-token"}},
	}
	if _, err := st.store.PutObject(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	f := lambdatest.Start(t, b.MustBuild(t, dispatchPkg, lambdatest.Host()), st.env(true))

	const sha = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	statusJob := func(at time.Time, reason string) delivery.Job {
		j := st.job("status")
		j.ProviderType = "github"
		j.CommitStatus = "kustomization/podinfo/0c9c2e41"
		j.Event.Reason = reason
		j.Event.Timestamp = event.NewTime(at)
		j.ID = delivery.JobID(reason, j.Event.Timestamp, "alert-uid", j.Provider)
		return j
	}
	now := time.Now().Truncate(time.Second)
	newer, older := statusJob(now, "ReconciliationSucceeded"), statusJob(now.Add(-time.Minute), "HealthCheckFailed")

	for _, j := range []delivery.Job{newer, older} {
		msg := st.inFlight(t, jobBody(t, j))
		if out := invokeSQS(t, f, st.sqsEvent(t, msg)); len(out.BatchItemFailures) != 0 {
			t.Fatalf("batchItemFailures %v, want none", failedIDs(out))
		}
	}
	want := []string{
		"GET /api/v3/repos/flux/podinfo/commits/" + sha + "/statuses?per_page=50",
		"POST /api/v3/repos/flux/podinfo/statuses/" + sha,
	}
	if got := gh.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls %q, want %q (the older failure must set nothing)", got, want)
	}
	statuses := gh.Statuses("flux", "podinfo", sha)
	if len(statuses) != 1 || statuses[0].State != "success" || statuses[0].Context != "kustomization/podinfo/0c9c2e41" {
		t.Errorf("statuses %+v, want one success with the planned id", statuses)
	}
	if strings.Contains(f.Output(), token) {
		t.Error("the function's logs contain the GitHub token")
	}
}

func testReceiver(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	rcv := api.Receiver{
		TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1", Kind: api.KindReceiver},
		Metadata: api.ObjectMeta{Name: "github-push", Namespace: ns, Labels: map[string]string{api.ClusterLabel: cluster}},
		Spec: api.ReceiverSpec{
			Type:      "github",
			Events:    []string{"push"},
			SecretRef: &api.LocalObjectReference{Name: "github-token"},
			Resources: []api.ReceiverResource{{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: "podinfo"}}},
		},
	}
	digest := receiver.Digest([]byte(githubToken), rcv.Metadata.Name, ns)
	if _, err := st.store.PutReceiver(context.Background(), rcv, digest); err != nil {
		t.Fatal(err)
	}
	st.sm.Set("herald/"+ns+"/github-token", `{"token":"`+githubToken+`"}`)
	f := lambdatest.Start(t, b.MustBuild(t, receiverPkg, lambdatest.Host()), st.env(false))
	payload, err := os.ReadFile("testdata/github-push.json")
	if err != nil {
		t.Fatal(err)
	}

	// A push signed with the Receiver's token: one reconcile request.
	resp := invokeHTTP(t, f, githubPush(t, digest, payload, githubToken).json(t))
	if resp.StatusCode != http.StatusOK || resp.Body != `{"reconcileRequests":1}`+"\n" {
		t.Fatalf("signed push: %d %q, want 200 {\"reconcileRequests\":1}", resp.StatusCode, resp.Body)
	}
	stored := st.query(t, "reconcile#"+cluster)
	if len(stored) != 1 || stored[0]["kind"] != "GitRepository" || stored[0]["name"] != "podinfo" ||
		stored[0]["namespace"] != ns || stored[0]["receiver"] != ns+"/github-push" {
		t.Errorf("reconcile items in DynamoDB: %v", stored)
	}

	// The forwarder's signed poll sees it.
	poll := httpEvent(t, "http-api-v2-poll.json")
	poll.sign(cluster, clusterToken, nil)
	resp = invokeHTTP(t, f, poll.json(t))
	var polled server.PollResponse
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(resp.Body), &polled) != nil {
		t.Fatalf("poll: %d %s", resp.StatusCode, resp.Body)
	}
	if len(polled.Requests) != 1 || polled.Cursor != polled.Requests[0].ID {
		t.Fatalf("poll: %s, want one request and its cursor", resp.Body)
	}
	// The same poll again is a replay; signed anew, it is answered.
	if resp := invokeHTTP(t, f, poll.json(t)); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Body, `"replayed request"`) {
		t.Errorf("replayed poll: %d %s, want 401 replayed request", resp.StatusCode, resp.Body)
	}
	poll.sign(cluster, clusterToken, nil)
	if resp := invokeHTTP(t, f, poll.json(t)); resp.StatusCode != http.StatusOK {
		t.Errorf("poll signed anew: %d %s, want 200", resp.StatusCode, resp.Body)
	}
	r := polled.Requests[0]
	if r.Kind != "GitRepository" || r.Name != "podinfo" || r.Namespace != ns || r.APIVersion != "source.toolkit.fluxcd.io/v1" ||
		r.Receiver != ns+"/github-push" || time.Since(r.RequestedAt) > time.Minute {
		t.Errorf("polled request %+v", r)
	}

	// A wrong signature and an unknown digest record nothing.
	resp = invokeHTTP(t, f, githubPush(t, digest, payload, "not-the-token").json(t))
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad signature: %d %s, want 400", resp.StatusCode, resp.Body)
	}
	unknown := receiver.Digest([]byte("another-token"), rcv.Metadata.Name, ns)
	resp = invokeHTTP(t, f, githubPush(t, unknown, payload, githubToken).json(t))
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown digest: %d %s, want 404", resp.StatusCode, resp.Body)
	}
	if n := len(st.query(t, "reconcile#"+cluster)); n != 1 {
		t.Errorf("%d reconcile items after the refused calls, want 1", n)
	}
}

// stack is what a function talks to: a fresh table in DynamoDB Local
// behind a counting proxy, fresh queues in goaws, the Secrets Manager
// double, and a provider endpoint.
type stack struct {
	table            string
	client           *dynamodb.Client // direct, for seeding and reading
	store            *dynamo.Store
	ddb              *countingProxy // the functions' DynamoDB endpoint
	sqs              *sqstest.SQS
	queueURL, dlqURL string
	sm               *awstest.SecretsManager
	sink             *notifytest.Sink
	noAWSFile        string
	// down makes /flaky answer 503 while set; refused counts them.
	down    atomic.Bool
	refused atomic.Int32
}

// postsWhileDown is how many POSTs /flaky refused.
func (st *stack) postsWhileDown() int { return int(st.refused.Load()) }

func newStack(t *testing.T) *stack {
	t.Helper()
	srv := dynamotest.Shared(t)
	st := &stack{table: dynamotest.TableName(t), client: srv.Client()}
	if err := dynamo.CreateTable(context.Background(), st.client, st.table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = st.client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(st.table)})
	})
	st.store = dynamo.New(st.client, st.table, dynamo.Options{})
	st.ddb = newCountingProxy(t, srv.Endpoint)
	st.sqs = sqstest.New(t)
	st.dlqURL = st.sqs.Queue("herald-deliveries-dlq")
	// As deploy/template.yaml makes it, with FunctionTimeout 30.
	st.queueURL = st.sqs.CreateQueue("herald-deliveries", map[string]string{
		"VisibilityTimeout": "190",
		"RedrivePolicy":     sqstest.RedrivePolicy(st.dlqURL, sqsqueue.MaxReceiveCount(delivery.DefaultMaxAge)),
	})
	st.sm = awstest.NewSecretsManager(t)
	st.sm.Set("herald/clusters/"+cluster, `{"token":"`+clusterToken+`"}`)
	st.sink = notifytest.NewSink(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/busy":
			http.Error(w, "busy", http.StatusServiceUnavailable)
		case "/bad":
			http.Error(w, "invalid payload", http.StatusBadRequest)
		case "/flaky":
			if st.down.Load() {
				st.refused.Add(1)
				http.Error(w, "down", http.StatusServiceUnavailable)
			}
		}
	})
	st.noAWSFile = filepath.Join(t.TempDir(), "no-such-file")
	return st
}

// env is the function's whole environment: what Lambda sets, credentials
// (DynamoDB Local keeps one database per access key: dynamotest's), the
// endpoints, and docs/aws.md's variables.
func (st *stack) env(dispatch bool) []string {
	name := "herald-receiver"
	if dispatch {
		name = "herald-dispatch"
	}
	env := append(lambdatest.BaseEnv(name),
		"AWS_ACCESS_KEY_ID=herald",
		"AWS_SECRET_ACCESS_KEY=herald",
		"AWS_CONFIG_FILE="+st.noAWSFile,
		"AWS_SHARED_CREDENTIALS_FILE="+st.noAWSFile,
		"AWS_ENDPOINT_URL_DYNAMODB="+st.ddb.URL,
		"AWS_ENDPOINT_URL_SQS="+st.sqs.URL,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER="+st.sm.URL,
		"HERALD_TABLE="+st.table,
		"HERALD_SECRET_PREFIX=herald/",
	)
	if dispatch {
		env = append(env, "HERALD_QUEUE_URL="+st.queueURL, "HERALD_DLQ_URL="+st.dlqURL)
	}
	return env
}

func (st *stack) putProvider(t *testing.T, name, path string) {
	t.Helper()
	p := api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1beta3", Kind: api.KindProvider},
		Metadata: api.ObjectMeta{Name: name, Namespace: ns},
		Spec:     api.ProviderSpec{Type: "generic", Address: st.sink.URL + path},
	}
	if _, err := st.store.PutObject(context.Background(), p); err != nil {
		t.Fatal(err)
	}
}

// seedDispatch stores a generic Provider "webhook" posting to path and an
// Alert sending it every Kustomization event of the namespace.
func (st *stack) seedDispatch(t *testing.T, path string) {
	t.Helper()
	st.putProvider(t, "webhook", path)
	a := api.Alert{
		TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1beta3", Kind: api.KindAlert},
		Metadata: api.ObjectMeta{Name: "kustomizations", Namespace: ns},
		Spec: api.AlertSpec{
			ProviderRef:   api.LocalObjectReference{Name: "webhook"},
			EventSources:  []api.CrossNamespaceObjectReference{{Kind: "Kustomization", Name: "*"}},
			EventMetadata: map[string]string{"env": "lambda"},
		},
	}
	if _, err := st.store.PutObject(context.Background(), a); err != nil {
		t.Fatal(err)
	}
}

// fluxEvent is a kustomize-controller event as Flux's recorder posts it:
// controller metadata under the object's group (the token and digest are
// dropped by ingest) and an event annotation.
func fluxEvent(message string) []byte {
	ev := map[string]any{
		"involvedObject": map[string]string{
			"kind": "Kustomization", "namespace": ns, "name": "podinfo",
			"uid": "7d0cdc51-ddcf-4743-b223-83ca5c699632", "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "resourceVersion": "56921",
		},
		"severity":  "info",
		"timestamp": time.Now().UTC().Format(time.RFC3339),
		"message":   message,
		"reason":    "ReconciliationSucceeded",
		"metadata": map[string]string{
			"kustomize.toolkit.fluxcd.io/revision": revision,
			"kustomize.toolkit.fluxcd.io/token":    "8b2f0d61",
			"kustomize.toolkit.fluxcd.io/digest":   "sha256:3f2a7c",
			"event.toolkit.fluxcd.io/deploymentID": "d-42",
		},
		"reportingController": "kustomize-controller",
		"reportingInstance":   "kustomize-controller-7f5d8b9c6d-x2x9q",
	}
	b, _ := json.Marshal(ev)
	return b
}

// ingestEvent is the HTTP API event of the forwarder posting body,
// signed with the cluster's token or not.
func (st *stack) ingestEvent(t *testing.T, body []byte, signed bool) apiEvent {
	e := httpEvent(t, "http-api-v2-ingest.json")
	e.setBody(body)
	if signed {
		e.sign(cluster, clusterToken, body)
	}
	return e
}

// githubPush is the HTTP API event of GitHub posting payload to
// /hook/<digest>, signed with token as GitHub does (SHA-1 and SHA-256).
func githubPush(t *testing.T, digest string, payload []byte, token string) apiEvent {
	e := httpEvent(t, "http-api-v2-github-push.json")
	e["rawPath"] = receiver.HookPrefix + digest
	e["pathParameters"] = map[string]any{"digest": digest}
	e["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = receiver.HookPrefix + digest
	e.setBody(payload)
	e.header("x-hub-signature", "sha1="+hmacHex(sha1.New, token, payload))
	e.header("x-hub-signature-256", "sha256="+hmacHex(sha256.New, token, payload))
	return e
}

// job is a delivery for the Provider name, as ingest queues it.
func (st *stack) job(provider string) delivery.Job {
	ev := event.Event{
		InvolvedObject:      event.ObjectReference{Kind: "Kustomization", Namespace: ns, Name: "podinfo", UID: "7d0cdc51-ddcf-4743-b223-83ca5c699632", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Severity:            event.SeverityInfo,
		Timestamp:           event.NewTime(time.Now().Truncate(time.Second)),
		Message:             "Deployment/apps/podinfo configured",
		Reason:              "ReconciliationSucceeded",
		Metadata:            map[string]string{"revision": revision, "cluster": cluster},
		ReportingController: "kustomize-controller",
		ReportingInstance:   "kustomize-controller-7f5d8b9c6d-x2x9q",
	}
	ref := delivery.ProviderRef{Namespace: ns, Name: provider}
	return delivery.Job{
		ID:           delivery.JobID(cluster+"/"+provider, ev.Timestamp, "alert-uid", ref),
		Event:        ev,
		Provider:     ref,
		ProviderType: "generic",
		Alert:        ns + "/all",
	}
}

func jobBody(t *testing.T, j delivery.Job) string {
	t.Helper()
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// received is a message the Lambda service received from the delivery
// queue, with the receive count it reports (goaws' own count stays 1) and
// when the message was sent (goaws reports the time of the receive).
type received struct {
	sqstest.Message
	receives int
	sent     time.Time
}

// inFlight sends body to the delivery queue and receives it, as the Lambda
// service does, for the first time.
func (st *stack) inFlight(t *testing.T, body string) received {
	t.Helper()
	sent := time.Now()
	return received{st.sqs.InFlight(st.queueURL, body), 1, sent}
}

// redeliver has SQS hand m over again, as its receives-th receive.
func (st *stack) redeliver(t *testing.T, m received, receives int) received {
	t.Helper()
	return received{st.sqs.Redeliver(st.queueURL, m.Message), receives, m.sent}
}

// message is what goaws holds of the delivery queue's message id.
func (st *stack) message(t *testing.T, id string) sqstest.Message {
	t.Helper()
	for _, m := range st.sqs.Messages(st.queueURL) {
		if m.ID == id {
			return m
		}
	}
	t.Fatalf("message %s is not in the delivery queue", id)
	return sqstest.Message{}
}

// sqsEvent is the SQS event the Lambda service sends for msgs, received
// from the delivery queue in goaws.
func (st *stack) sqsEvent(t *testing.T, msgs ...received) []byte {
	t.Helper()
	var tmpl struct{ Records []map[string]any }
	readJSON(t, "testdata/sqs-deliveries.json", &tmpl)
	var records []map[string]any
	for _, m := range msgs {
		var rec map[string]any
		b, _ := json.Marshal(tmpl.Records[0])
		_ = json.Unmarshal(b, &rec)
		sum := md5.Sum([]byte(m.Body))
		rec["messageId"] = m.ID
		rec["receiptHandle"] = m.ReceiptHandle
		rec["body"] = m.Body
		rec["md5OfBody"] = hex.EncodeToString(sum[:])
		attrs := rec["attributes"].(map[string]any)
		attrs["ApproximateReceiveCount"] = strconv.Itoa(m.receives)
		// A job's retry horizon starts when it was sent, if its body does
		// not say.
		attrs["SentTimestamp"] = strconv.FormatInt(m.sent.UnixMilli(), 10)
		records = append(records, rec)
	}
	b, err := json.Marshal(map[string]any{"Records": records})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (st *stack) posts(path string) []notifytest.Request {
	var out []notifytest.Request
	for _, r := range st.sink.Requests() {
		if r.Method == http.MethodPost && r.URI == path {
			out = append(out, r)
		}
	}
	return out
}

// item reads one item's string attributes.
func (st *stack) item(t *testing.T, pk, sk string) map[string]string {
	t.Helper()
	out, err := st.client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName:      aws.String(st.table),
		Key:            map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return stringAttrs(out.Item)
}

// query reads the string attributes of a partition's items.
func (st *stack) query(t *testing.T, pk string) []map[string]string {
	t.Helper()
	out, err := st.client.Query(context.Background(), &dynamodb.QueryInput{
		TableName:                 aws.String(st.table),
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: pk}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	var items []map[string]string
	for _, it := range out.Items {
		items = append(items, stringAttrs(it))
	}
	return items
}

func stringAttrs(item map[string]types.AttributeValue) map[string]string {
	m := map[string]string{}
	for k, v := range item {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			m[k] = s.Value
		}
	}
	return m
}

// apiEvent is an API Gateway HTTP API (payload 2.0) event, kept as a map so
// that it marshals with exactly the fixture's fields.
type apiEvent map[string]any

func httpEvent(t *testing.T, fixture string) apiEvent {
	t.Helper()
	var e apiEvent
	readJSON(t, filepath.Join("testdata", fixture), &e)
	return e
}

func (e apiEvent) header(name, value string) { e["headers"].(map[string]any)[name] = value }

func (e apiEvent) setBody(b []byte) {
	e["body"] = string(b)
	e["isBase64Encoded"] = false
	e.header("content-length", strconv.Itoa(len(b)))
}

// sign adds the forwarder's signature headers, lower-cased as API Gateway
// passes them, over the event's method, path and query as the forwarder sent
// them.
func (e apiEvent) sign(cluster, token string, body []byte) {
	method := e["requestContext"].(map[string]any)["http"].(map[string]any)["method"].(string)
	target := e["rawPath"].(string)
	if q, _ := e["rawQueryString"].(string); q != "" {
		target += "?" + q
	}
	h := http.Header{}
	clusterauth.Sign(h, cluster, []byte(token), method, target, body, time.Now())
	for k := range h {
		e.header(strings.ToLower(k), h.Get(k))
	}
}

func (e apiEvent) json(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func invoke(t *testing.T, f *lambdatest.Function, payload []byte) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := f.Invoke(ctx, payload)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	return out
}

// httpResponse is the function's answer to an HTTP API event, body decoded.
type httpResponse struct {
	events.APIGatewayV2HTTPResponse
}

func invokeHTTP(t *testing.T, f *lambdatest.Function, payload []byte) httpResponse {
	t.Helper()
	out := invoke(t, f, payload)
	var resp httpResponse
	if err := json.Unmarshal(out, &resp.APIGatewayV2HTTPResponse); err != nil {
		t.Fatalf("response is not an HTTP API response: %v\n%s", err, out)
	}
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body, resp.IsBase64Encoded = string(b), false
	}
	return resp
}

func invokeSQS(t *testing.T, f *lambdatest.Function, payload []byte) events.SQSEventResponse {
	t.Helper()
	out := invoke(t, f, payload)
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatalf("response is not an SQS batch response: %v\n%s", err, out)
	}
	return resp
}

// waitEMF waits for the function's EMF lines (its stdout reaches the test
// through a pipe, a little after the invocation) and checks them: every one
// valid, in namespace Herald, with the function's name as a dimension, and
// their metrics adding up to want. A key of want is the metric's name with
// its other dimensions, sorted: "Deliveries{outcome=retry,provider_type=generic,reason=server_error}";
// a metric's key counts its lines, whatever its value.
func waitEMF(t *testing.T, f *lambdatest.Function, want map[string]float64) {
	t.Helper()
	var (
		got map[string]float64
		err error
	)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var docs []*emftest.Doc
		docs, err = emftest.Lines(f.Output())
		got = map[string]float64{}
		for _, d := range docs {
			if d.Namespace != emf.Namespace || d.Dimensions[emf.DimFunction] != "herald-dispatch" {
				t.Fatalf("EMF line in namespace %q with dimensions %v, want namespace %s and function herald-dispatch",
					d.Namespace, d.Dimensions, emf.Namespace)
			}
			var dims []string
			for k, v := range d.Dimensions {
				if k != emf.DimFunction {
					dims = append(dims, k+"="+v)
				}
			}
			slices.Sort(dims)
			for name := range d.Metrics {
				key := name
				if len(dims) > 0 {
					key += "{" + strings.Join(dims, ",") + "}"
				}
				got[key]++
			}
		}
		if err != nil || maps.Equal(got, want) || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatalf("invalid EMF lines: %v", err)
	}
	if !maps.Equal(got, want) {
		t.Errorf("EMF lines per metric %v, want %v", got, want)
	}
}

func header(resp httpResponse, name string) string {
	for k, v := range resp.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	for k, v := range resp.MultiValueHeaders {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func failedIDs(resp events.SQSEventResponse) []string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return ids
}

func first(reqs []notifytest.Request) string {
	if len(reqs) == 0 {
		return "(none)"
	}
	return string(reqs[0].Body)
}

func hmacHex(h func() hash.Hash, key string, body []byte) string {
	mac := hmac.New(h, []byte(key))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}

// countingProxy forwards to DynamoDB Local and counts requests by
// operation (X-Amz-Target without the service prefix), retries included:
// what DynamoDB would bill. dynamotest.Counter does the same inside an SDK
// client; the binaries' clients are out of reach.
type countingProxy struct {
	URL    string
	mu     sync.Mutex
	counts map[string]int
}

func newCountingProxy(t *testing.T, target string) *countingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &countingProxy{counts: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := r.Header.Get("X-Amz-Target")
		if i := strings.LastIndexByte(op, '.'); i >= 0 {
			op = op[i+1:]
		}
		p.mu.Lock()
		p.counts[op]++
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Counts returns the requests so far by operation, with their total.
func (p *countingProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := maps.Clone(p.counts)
	total := 0
	for _, n := range m {
		total += n
	}
	m["total"] = total
	return m
}

func (p *countingProxy) Reset() {
	p.mu.Lock()
	clear(p.counts)
	p.mu.Unlock()
}
