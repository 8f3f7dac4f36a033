package e2e

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	eventv1 "github.com/fluxcd/pkg/apis/event/v1beta1"
	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify/github/githubtest"
	"github.com/heraldhq/herald/pkg/notify/gitlab/gitlabtest"
	"github.com/heraldhq/herald/tests/internal/harness"
)

const (
	ns          = "flux-system"
	hmacToken   = "e2e-hmac-key-7152fed34dd6149a7c75"
	slackToken  = "xoxb-e2e-token"
	revision    = "main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07"
	deliveryMax = 10 * time.Second
)

// allKustomizations selects every Kustomization in the Alert's namespace.
var allKustomizations = []harness.EventSource{{Kind: "Kustomization", Name: "*"}}

// TestFluxRecorderToProviders sends events with Flux's recorder and checks
// the exact requests a generic, a generic-hmac and a slack Provider receive,
// de-duplication, and that non-matching events go nowhere.
func TestFluxRecorderToProviders(t *testing.T) {
	t.Parallel()
	generic, signed, slack := sink(t, nil), sink(t, nil), sink(t, nil)
	cfg := harness.Config{
		Secrets: []harness.Secret{
			{Name: "hmac-token", Namespace: ns, StringData: map[string]string{"token": hmacToken}},
			{Name: "slack-token", Namespace: ns, Data: map[string]string{"token": slackToken}},
		},
		Providers: []harness.Provider{
			{Name: "generic", Namespace: ns, Type: "generic", Address: generic.URL() + "/hook/generic"},
			{Name: "signed", Namespace: ns, Type: "generic-hmac", Address: signed.URL() + "/hook/signed", SecretRef: "hmac-token"},
			{Name: "slack", Namespace: ns, Type: "slack", Address: slack.URL() + "/services/T0/B0/x", Channel: "general", SecretRef: "slack-token"},
		},
		Alerts: []harness.Alert{
			{Name: "generic", Namespace: ns, ProviderRef: "generic", EventSources: allKustomizations},
			{Name: "signed", Namespace: ns, ProviderRef: "signed", EventSources: allKustomizations, EventMetadata: map[string]string{"env": "e2e"}},
			{Name: "slack", Namespace: ns, ProviderRef: "slack", EventSeverity: "info", EventSources: allKustomizations},
		},
	}
	herald := serve(t, cfg)
	rec := newRecorder(t, herald.URL)

	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	// A kustomize-controller event as Flux sends it: controller metadata under
	// the object's group (revision, the de-duplication token, a digest that
	// is stripped), a key of another group (dropped), and an object
	// annotation under event.toolkit.fluxcd.io/ (kept, unprefixed).
	obj := fluxObject(kustomizationGVK, ns, "podinfo", map[string]string{
		"event.toolkit.fluxcd.io/deploymentID":  "d-42",
		"kustomize.toolkit.fluxcd.io/reconcile": "disabled", // not an event annotation
	})
	controllerMeta := map[string]string{
		"kustomize.toolkit.fluxcd.io/revision": revision,
		"kustomize.toolkit.fluxcd.io/token":    "tok-1",
		"kustomize.toolkit.fluxcd.io/digest":   "sha256:0123",
		"source.toolkit.fluxcd.io/revision":    "other-group",
	}
	message := "Deployment/apps/podinfo configured\nService/apps/podinfo (ports 80 -> 9898) & more"

	ex := rec.send(t, obj, controllerMeta, corev1.EventTypeNormal, "ReconciliationSucceeded", message)
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered the recorder %d %q, want 202", ex.Status, ex.Reply)
	}
	if len(ex.Reply) != 0 {
		t.Errorf("202 body = %q, want empty", ex.Reply)
	}
	sent := decodeEvent(t, ex.Body)
	if sent.ReportingInstance != hostname {
		t.Fatalf("recorder sent reportingInstance %q, want this host %q", sent.ReportingInstance, hostname)
	}
	if sent.Metadata["kustomize.toolkit.fluxcd.io/token"] != "tok-1" {
		t.Fatalf("recorder did not send the token: %s", ex.Body)
	}

	// What every provider must see: the event with its metadata cleaned up
	// and combined (§1.3, §2.3): unprefixed keys, no token, no digest, no
	// foreign group; the annotation key as-is without its prefix.
	wantMeta := map[string]string{"deploymentID": "d-42", "revision": revision}
	wantGeneric := withMetadata(sent, wantMeta)
	wantSigned := withMetadata(sent, map[string]string{"deploymentID": "d-42", "env": "e2e", "revision": revision})

	t.Run("generic", func(t *testing.T) {
		reqs, err := generic.WaitFor(1, deliveryMax)
		if err != nil {
			t.Fatal(err)
		}
		r := reqs[0]
		checkPost(t, r, "/hook/generic")
		checkHeader(t, r, "Content-Type", "application/json")
		checkHeader(t, r, "Gotk-Component", "kustomize-controller")
		checkHeader(t, r, "X-Signature", "")
		checkHeader(t, r, "Authorization", "")
		checkBody(t, r.Body, wantGeneric)
	})

	t.Run("generic-hmac", func(t *testing.T) {
		reqs, err := signed.WaitFor(1, deliveryMax)
		if err != nil {
			t.Fatal(err)
		}
		r := reqs[0]
		checkPost(t, r, "/hook/signed")
		checkHeader(t, r, "Content-Type", "application/json")
		checkHeader(t, r, "Gotk-Component", "kustomize-controller")
		mac := hmac.New(sha256.New, []byte(hmacToken))
		mac.Write(r.Body)
		checkHeader(t, r, "X-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
		checkBody(t, r.Body, wantSigned)
	})

	t.Run("slack", func(t *testing.T) {
		reqs, err := slack.WaitFor(1, deliveryMax)
		if err != nil {
			t.Fatal(err)
		}
		r := reqs[0]
		checkPost(t, r, "/services/T0/B0/x")
		checkHeader(t, r, "Content-Type", "application/json")
		checkHeader(t, r, "Authorization", "Bearer "+slackToken)
		checkSlackBody(t, r.Body, slackPayloadFor(sent, wantMeta, "general"))
	})

	// The same event again within the window: 429 with Retry-After, which
	// Flux's client does not retry, and nothing is delivered again.
	dup := rec.send(t, obj, controllerMeta, corev1.EventTypeNormal, "ReconciliationSucceeded", message)
	if dup.Status != http.StatusTooManyRequests {
		t.Errorf("duplicate event answered %d %q, want 429", dup.Status, dup.Reply)
	}
	if ra := dup.Header.Get("Retry-After"); !validRetryAfter(ra) {
		t.Errorf("duplicate event: Retry-After %q, want delay-seconds or an HTTP-date", ra)
	}

	// Events no Alert selects: another kind, and the same kind in another
	// namespace. Herald accepts them (202, as Flux) and delivers nothing.
	other := rec.send(t, fluxObject(gitRepositoryGVK, ns, "podinfo", nil), nil, corev1.EventTypeNormal, "Succeeded", "stored artifact for revision 'main@sha1:1'")
	elsewhere := rec.send(t, fluxObject(kustomizationGVK, "apps", "podinfo", nil), nil, corev1.EventTypeWarning, "HealthCheckFailed", "health check failed in apps")
	for name, e := range map[string]exchange{"GitRepository event": other, "event from namespace apps": elsewhere} {
		if e.Status != http.StatusAccepted {
			t.Errorf("%s answered %d %q, want 202", name, e.Status, e.Reply)
		}
	}

	// A matching event last; once it arrived everywhere, give stragglers a
	// moment, then each sink must hold exactly the first event and this one.
	barrier := rec.send(t, obj, nil, corev1.EventTypeWarning, "HealthCheckFailed", "barrier: health check failed")
	if barrier.Status != http.StatusAccepted {
		t.Fatalf("barrier event answered %d %q, want 202", barrier.Status, barrier.Reply)
	}
	for name, s := range map[string]*harness.Sink{"generic": generic, "generic-hmac": signed, "slack": slack} {
		if _, err := s.WaitForBody("barrier: health check failed", deliveryMax); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	time.Sleep(750 * time.Millisecond)
	for name, s := range map[string]*harness.Sink{"generic": generic, "generic-hmac": signed, "slack": slack} {
		reqs := s.Requests()
		if len(reqs) != 2 {
			t.Errorf("%s received %d requests, want 2 (the first event once, the barrier once):", name, len(reqs))
			for _, r := range reqs {
				t.Logf("  %s", r)
			}
		}
	}
	// The barrier is an error event: check the severity made it through.
	if r, err := slack.WaitForBody("barrier", 0); err == nil && !bytes.Contains(r.Body, []byte(`"color":"danger"`)) {
		t.Errorf("slack: error event without color danger: %s", r.Body)
	}

	t.Run("probes", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
			resp, err := http.Get(herald.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
			}
		}
	})
}

// TestRetryAfter503 checks that a provider answering 503 twice and then 200
// gets the event on the third attempt, after herald's back-off.
func TestRetryAfter503(t *testing.T) {
	t.Parallel()
	flaky := sink(t, harness.StatusSequence(503, 503, 200))
	herald := serve(t, oneProvider(flaky.URL()+"/flaky"))
	rec := newRecorder(t, herald.URL)

	start := time.Now()
	ex := rec.send(t, fluxObject(kustomizationGVK, ns, "flaky", nil), nil, corev1.EventTypeWarning, "ReconciliationFailed", "apply failed")
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	reqs, err := flaky.WaitFor(3, 12*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	took := reqs[2].At.Sub(start)
	t.Logf("attempts at +%s, +%s, +%s", reqs[0].At.Sub(start).Round(time.Millisecond),
		reqs[1].At.Sub(start).Round(time.Millisecond), took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("third attempt %s after the event, want within ~10 s (back-off 2 s, 4 s)", took)
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < time.Second {
		t.Errorf("second attempt only %s after the first, want the queue's back-off (2 s)", gap)
	}
	if gap := reqs[2].At.Sub(reqs[1].At); gap < 2*time.Second {
		t.Errorf("third attempt only %s after the second, want the back-off to grow (4 s)", gap)
	}
	for i := 1; i < 3; i++ {
		if !bytes.Equal(reqs[i].Body, reqs[0].Body) {
			t.Errorf("attempt %d body differs from the first:\n%s\n%s", i+1, reqs[i].Body, reqs[0].Body)
		}
	}
	// Delivered: no fourth attempt.
	time.Sleep(2500 * time.Millisecond)
	if n := len(flaky.Requests()); n != 3 {
		t.Errorf("sink received %d requests, want exactly 3 (503, 503, 200)", n)
	}
}

// TestNoRetryAfter400 checks that a permanent failure is not retried.
func TestNoRetryAfter400(t *testing.T) {
	t.Parallel()
	bad := sink(t, harness.AlwaysStatus(http.StatusBadRequest))
	herald := serve(t, oneProvider(bad.URL()+"/bad"))
	rec := newRecorder(t, herald.URL)

	ex := rec.send(t, fluxObject(kustomizationGVK, ns, "bad", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "applied")
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	if _, err := bad.WaitFor(1, deliveryMax); err != nil {
		t.Fatal(err)
	}
	// The first retry of a retryable failure would come after 2 s.
	time.Sleep(3500 * time.Millisecond)
	if reqs := bad.Requests(); len(reqs) != 1 {
		t.Errorf("sink answering 400 received %d requests, want exactly 1 (400 is permanent)", len(reqs))
	}
}

// TestIngestErrors checks the answers to bodies herald refuses, and that
// none of them is delivered, while valid events on any path are.
func TestIngestErrors(t *testing.T) {
	t.Parallel()
	s := sink(t, nil)
	herald := serve(t, oneProvider(s.URL()+"/hook"))
	url := herald.URL + "/"

	t.Run("malformed JSON", func(t *testing.T) {
		status, h, body := rawPost(t, url, []byte(`{"involvedObject": {"kind": "Kustomization",`))
		if status != http.StatusBadRequest {
			t.Errorf("status %d, want 400 (body %q)", status, body)
		}
		checkJSONError(t, "malformed JSON", h, body)
	})

	t.Run("body over 3 MiB", func(t *testing.T) {
		ev := eventv1.Event{
			InvolvedObject: corev1.ObjectReference{Kind: "Kustomization", Namespace: ns, Name: "big", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
			Severity:       "info",
			Reason:         "Big",
			Message:        strings.Repeat("x", 3<<20),
		}
		body, _ := json.Marshal(ev)
		status, h, reply := rawPost(t, url, body)
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("%d-byte body: status %d, want 413 (body %q)", len(body), status, reply)
		}
		checkJSONError(t, "body over 3 MiB", h, reply)
	})

	t.Run("missing involvedObject.name", func(t *testing.T) {
		body := []byte(`{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},` +
			`"severity":"info","timestamp":"2026-11-22T03:04:41Z","message":"nameless","reason":"ReconciliationSucceeded","reportingController":"kustomize-controller"}`)
		status, h, reply := rawPost(t, url, body)
		if status != http.StatusBadRequest {
			t.Errorf("status %d, want 400 (body %q)", status, reply)
		}
		checkJSONError(t, "missing involvedObject.name", h, reply)
	})

	// Local mode accepts events on any path, like Flux, and the labels a
	// forwarder may add under involvedObjectLabels are never forwarded.
	labelled := []byte(`{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"labelled","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},` +
		`"severity":"info","timestamp":"2026-11-22T03:04:41Z","message":"labelled event","reason":"ReconciliationSucceeded",` +
		`"reportingController":"kustomize-controller","involvedObjectLabels":{"team":"a"}}`)
	if status, _, reply := rawPost(t, herald.URL+"/any/path", labelled); status != http.StatusAccepted {
		t.Errorf("valid event on /any/path answered %d %q, want 202", status, reply)
	}
	if r, err := s.WaitForBody("labelled event", deliveryMax); err != nil {
		t.Error(err)
	} else {
		want := `{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"labelled","apiVersion":"kustomize.toolkit.fluxcd.io/v1"},` +
			`"severity":"info","timestamp":"2026-11-22T03:04:41Z","message":"labelled event","reason":"ReconciliationSucceeded",` +
			`"reportingController":"kustomize-controller"}`
		checkBody(t, r.Body, []byte(want))
	}

	// Nothing refused above reaches the provider; a valid event after them does.
	rec := newRecorder(t, herald.URL)
	if ex := rec.send(t, fluxObject(kustomizationGVK, ns, "ok", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "barrier"); ex.Status != http.StatusAccepted {
		t.Fatalf("valid event answered %d %q, want 202", ex.Status, ex.Reply)
	}
	if _, err := s.WaitForBody("barrier", deliveryMax); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	if reqs := s.Requests(); len(reqs) != 2 {
		t.Errorf("sink received %d requests, want only the two valid events:", len(reqs))
		for _, r := range reqs {
			t.Logf("  %s", r)
		}
	}
}

// oneProvider is a config with a generic Provider at address and an Alert
// for every Kustomization in flux-system.
func oneProvider(address string) harness.Config {
	return harness.Config{
		Providers: []harness.Provider{{Name: "hook", Namespace: ns, Type: "generic", Address: address}},
		Alerts:    []harness.Alert{{Name: "all", Namespace: ns, ProviderRef: "hook", EventSources: allKustomizations}},
	}
}

// withMetadata is the body Flux's notification-controller forwards to a
// generic provider: the received event with its combined metadata, encoded
// by encoding/json with Flux's own type.
func withMetadata(ev eventv1.Event, meta map[string]string) []byte {
	ev.Metadata = meta
	b, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return b
}

func checkPost(t *testing.T, r harness.Request, path string) {
	t.Helper()
	if r.Method != http.MethodPost || r.Path != path {
		t.Errorf("request %s %s, want POST %s", r.Method, r.Path, path)
	}
}

func checkHeader(t *testing.T, r harness.Request, key, want string) {
	t.Helper()
	if got := headerValue(t, r.Path, r.Header, key); got != want {
		t.Errorf("header %s = %q, want %q", key, got, want)
	}
}

func checkBody(t *testing.T, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("body differs\n got: %s\nwant: %s", got, want)
	}
}

// Flux's Slack payload (internal/notifier/slack.go, 1.9), field order kept.
type slackPayload struct {
	Channel     string            `json:"channel"`
	Username    string            `json:"username"`
	IconURL     string            `json:"icon_url"`
	IconEmoji   string            `json:"icon_emoji"`
	Attachments []slackAttachment `json:"attachments,omitempty"`
}

type slackAttachment struct {
	Fallback   string       `json:"fallback"`
	Color      string       `json:"color"`
	AuthorName string       `json:"author_name"`
	Text       string       `json:"text"`
	MrkdwnIn   []string     `json:"mrkdwn_in"`
	Fields     []slackField `json:"fields"`
}

type slackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

func slackPayloadFor(ev eventv1.Event, meta map[string]string, channel string) slackPayload {
	objName := strings.ToLower(ev.InvolvedObject.Kind) + "/" + ev.InvolvedObject.Name + "." + ev.InvolvedObject.Namespace
	firstLine, _, _ := strings.Cut(ev.Message, "\n")
	color := "good"
	if ev.Severity == eventv1.EventSeverityError {
		color = "danger"
	}
	fields := make([]slackField, 0, len(meta))
	for k, v := range meta {
		fields = append(fields, slackField{Title: k, Value: v})
	}
	return slackPayload{
		Channel:  channel,
		Username: ev.ReportingController,
		Attachments: []slackAttachment{{
			Fallback:   objName + ": " + firstLine,
			Color:      color,
			AuthorName: objName,
			Text:       ev.Message,
			MrkdwnIn:   []string{"text"},
			Fields:     fields,
		}},
	}
}

// checkSlackBody compares bytes exactly. Flux builds the fields from a Go
// map, so their order is unspecified: the expected body takes the order of
// the fields received, provided they are the expected set.
func checkSlackBody(t *testing.T, got []byte, want slackPayload) {
	t.Helper()
	var recv slackPayload
	if err := json.Unmarshal(got, &recv); err == nil && len(recv.Attachments) == 1 {
		byTitle := map[string]slackField{}
		for _, f := range want.Attachments[0].Fields {
			byTitle[f.Title] = f
		}
		ordered := make([]slackField, 0, len(byTitle))
		for _, f := range recv.Attachments[0].Fields {
			if wf, ok := byTitle[f.Title]; ok {
				ordered = append(ordered, wf)
				delete(byTitle, f.Title)
			}
		}
		if len(byTitle) == 0 && len(ordered) == len(want.Attachments[0].Fields) {
			want.Attachments[0].Fields = ordered
		}
	}
	wantBody, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	checkBody(t, got, wantBody)
}

// validRetryAfter accepts delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func validRetryAfter(v string) bool {
	if v == "" {
		return false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return n >= 0
	}
	_, err := http.ParseTime(v)
	return err == nil
}

// TestRetryAfterHonoured checks that a provider's Retry-After replaces the
// queue's back-off (2 s): a 429 asking for 1 s is retried after about 1 s.
func TestRetryAfterHonoured(t *testing.T) {
	t.Parallel()
	s := sink(t, func(n int, _ *http.Request) (int, http.Header) {
		if n == 0 {
			return http.StatusTooManyRequests, http.Header{"Retry-After": {"1"}}
		}
		return http.StatusOK, nil
	})
	herald := serve(t, oneProvider(s.URL()+"/limited"))
	rec := newRecorder(t, herald.URL)

	ex := rec.send(t, fluxObject(kustomizationGVK, ns, "limited", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "rate limited once")
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	reqs, err := s.WaitFor(2, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}
	gap := reqs[1].At.Sub(reqs[0].At)
	t.Logf("retry %s after the 429 with Retry-After: 1", gap.Round(time.Millisecond))
	if gap < 900*time.Millisecond || gap > 1900*time.Millisecond {
		t.Errorf("retry came %s after a 429 with Retry-After: 1, want about 1 s", gap)
	}
}

// TestMaxDeliveryAge checks that --max-delivery-age bounds the retries of a
// delivery to a provider that keeps failing: attempts at 0 s and 2 s, and
// none at 6 s, past the horizon of 5 s, so the second failure gives the
// delivery up with the reason.
func TestMaxDeliveryAge(t *testing.T) {
	t.Parallel()
	down := sink(t, harness.AlwaysStatus(http.StatusServiceUnavailable))
	herald := serve(t, oneProvider(down.URL()+"/down"), "--max-delivery-age", "5s")
	rec := newRecorder(t, herald.URL)

	ex := rec.send(t, fluxObject(kustomizationGVK, ns, "down", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "provider down")
	if ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}
	if _, err := down.WaitFor(2, deliveryMax); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(deliveryMax)
	for !strings.Contains(herald.Stderr(), `"reason":"max delivery age reached"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no give-up line with the reason in herald's log:\n%s", herald.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n := len(down.Requests()); n != 2 {
		t.Errorf("provider answering 503 received %d requests with --max-delivery-age 5s, want 2", n)
	}
}

// TestGitCommitStatus sends kustomize-controller's "Reconciliation
// finished" event with Flux's recorder through herald serve and checks that
// a fake GitHub and a fake GitLab each get exactly the calls Flux makes
// (§4.3): one list and one status with the default id of the Provider's
// UID; that the same status again lists and sets nothing; and that no token
// reaches a log line.
func TestGitCommitStatus(t *testing.T) {
	t.Parallel()
	const (
		githubToken = "ghp-e2e-commit-status-token"
		gitlabToken = "glpat-e2e-commit-status-token"
	)
	gh := githubtest.New(t)
	gh.Token = githubToken
	gl := gitlabtest.New(t)
	gl.Users[gitlabToken] = "flux-bot"
	cfg := harness.Config{
		Secrets: []harness.Secret{
			{Name: "github-token", Namespace: ns, StringData: map[string]string{"token": githubToken}},
			{Name: "gitlab-token", Namespace: ns, StringData: map[string]string{"token": gitlabToken}},
		},
		Providers: []harness.Provider{
			{Name: "github", Namespace: ns, Type: "github", Address: gh.URL + "/flux/podinfo", SecretRef: "github-token"},
			{Name: "gitlab", Namespace: ns, Type: "gitlab", Address: gl.URL + "/flux/apps/podinfo.git", SecretRef: "gitlab-token"},
		},
		Alerts: []harness.Alert{
			{Name: "github", Namespace: ns, ProviderRef: "github", EventSources: allKustomizations},
			{Name: "gitlab", Namespace: ns, ProviderRef: "gitlab", EventSources: allKustomizations},
		},
	}
	herald := serve(t, cfg)
	rec := newRecorder(t, herald.URL)

	const sha = "a1afe267b54f38b46b487f6e938a6fd508278c07"
	meta := map[string]string{
		"kustomize.toolkit.fluxcd.io/revision":      "main@sha1:" + sha,
		"kustomize.toolkit.fluxcd.io/commit_status": "update",
	}
	statusID := func(provider string) string {
		uid := api.StableUID(api.KindProvider, api.ObjectMeta{Namespace: ns, Name: provider})
		return "kustomization/podinfo/" + uid[:strings.Index(uid, "-")]
	}
	ghList := "GET /api/v3/repos/flux/podinfo/commits/" + sha + "/statuses?per_page=50"
	ghCreate := "POST /api/v3/repos/flux/podinfo/statuses/" + sha
	glList := "GET /api/v4/projects/flux%2Fapps%2Fpodinfo/repository/commits/" + sha + "/statuses?name=" + url.QueryEscape(statusID("gitlab"))
	glCreate := "POST /api/v4/projects/flux%2Fapps%2Fpodinfo/statuses/" + sha

	send := func(message string) {
		t.Helper()
		ex := rec.send(t, fluxObject(kustomizationGVK, ns, "podinfo", nil), meta, corev1.EventTypeNormal, "ReconciliationSucceeded", message)
		if ex.Status != http.StatusAccepted {
			t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
		}
	}
	waitCalls := func(host string, calls func() []string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(deliveryMax)
		for len(calls()) < len(want) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := calls(); !slices.Equal(got, want) {
			t.Fatalf("%s calls %q, want %q", host, got, want)
		}
	}

	send("Reconciliation finished in 1.2s, next run in 10m0s")
	waitCalls("GitHub", gh.Calls, ghList, ghCreate)
	waitCalls("GitLab", gl.Calls, glList, glCreate)
	if st := gh.Statuses("flux", "podinfo", sha); len(st) != 1 || st[0].State != "success" ||
		st[0].Context != statusID("github") || st[0].Description != "reconciliation succeeded" {
		t.Errorf("GitHub statuses %+v, want one success %q", st, statusID("github"))
	}
	if st := gl.Statuses("flux/apps/podinfo", sha); len(st) != 1 || st[0].Status != "success" ||
		st[0].Name != statusID("gitlab") || st[0].Description != "reconciliation succeeded" {
		t.Errorf("GitLab statuses %+v, want one success %q", st, statusID("gitlab"))
	}

	// Another message, the same status: Flux lists and sets nothing new.
	send("Reconciliation finished in 0.9s, next run in 10m0s")
	waitCalls("GitHub", gh.Calls, ghList, ghCreate, ghList)
	waitCalls("GitLab", gl.Calls, glList, glCreate, glList)
	for _, tok := range []string{githubToken, gitlabToken} {
		if strings.Contains(herald.Stderr(), tok) {
			t.Errorf("herald's logs contain the token %q", tok)
		}
	}
}

// TestGitPullRequestComment sends two events of an object whose
// event.toolkit.fluxcd.io/change_request annotation names a pull request
// through herald serve to a githubpullrequestcomment Provider: the fake
// GitHub gets one comment, created by the first and edited in place by the
// second (§4.4), never a duplicate.
func TestGitPullRequestComment(t *testing.T) {
	t.Parallel()
	const token = "ghp-e2e-comment-token"
	gh := githubtest.NewCommentServer(t)
	gh.Token = token
	gh.Login = "flux-bot"
	cfg := harness.Config{
		Secrets:   []harness.Secret{{Name: "github-token", Namespace: ns, StringData: map[string]string{"token": token}}},
		Providers: []harness.Provider{{Name: "pr", Namespace: ns, Type: "githubpullrequestcomment", Address: gh.URL + "/flux/podinfo", SecretRef: "github-token"}},
		Alerts:    []harness.Alert{{Name: "pr", Namespace: ns, ProviderRef: "pr", EventSources: allKustomizations}},
	}
	herald := serve(t, cfg)
	rec := newRecorder(t, herald.URL)
	obj := fluxObject(kustomizationGVK, ns, "podinfo", map[string]string{"event.toolkit.fluxcd.io/change_request": "42"})
	uid := api.StableUID(api.KindProvider, api.ObjectMeta{Namespace: ns, Name: "pr"})
	marker := "<!-- flux-pr-comment-key:" + uid + "/Kustomization/" + ns + "/podinfo -->"

	waitFor := func(what string, done func([]githubtest.Comment) bool) []githubtest.Comment {
		t.Helper()
		deadline := time.Now().Add(deliveryMax)
		for time.Now().Before(deadline) {
			if c := gh.Comments("flux", "podinfo", 42); done(c) {
				return c
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("%s: comments %+v, calls %q", what, gh.Comments("flux", "podinfo", 42), gh.Calls())
		return nil
	}
	for i, message := range []string{"Reconciliation finished in 1.2s", "Health check failed after 30s"} {
		ex := rec.send(t, obj, nil, corev1.EventTypeNormal, "ReconciliationSucceeded", message)
		if ex.Status != http.StatusAccepted {
			t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
		}
		waitFor(fmt.Sprintf("event %d", i+1), func(c []githubtest.Comment) bool {
			return len(c) == 1 && strings.Contains(c[0].Body, message)
		})
	}
	comments := gh.Comments("flux", "podinfo", 42)
	if len(comments) != 1 || !strings.HasPrefix(comments[0].Body, marker+"\n\n") || comments[0].User.Login != "flux-bot" {
		t.Fatalf("comments %+v, want one by flux-bot starting with %q", comments, marker)
	}
	var creates, edits int
	for _, c := range gh.Calls() {
		switch {
		case strings.HasPrefix(c, "POST ") && strings.HasSuffix(c, "/issues/42/comments"):
			creates++
		case strings.HasPrefix(c, "PATCH "):
			edits++
		}
	}
	if creates != 1 || edits != 1 {
		t.Errorf("%d creates and %d edits, want one of each: %q", creates, edits, gh.Calls())
	}
	if strings.Contains(herald.Stderr(), token) {
		t.Error("herald's logs contain the GitHub token")
	}
}
