package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	eventv1 "github.com/fluxcd/pkg/apis/event/v1beta1"
	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// The forwarder's tests run it with --no-kube: the relay, the durable buffer
// and the signed sender, between Flux's recorder (or plain POSTs in Flux's
// event JSON) and a `herald serve` that authenticates the cluster.

// TestForwarderRelay: Flux's own recorder posts to the forwarder, which
// signs the event with the cluster token and sends it to herald serve, which
// only takes signed events; the provider gets exactly what it would from
// Flux, plus the cluster metadata.
func TestForwarderRelay(t *testing.T) {
	t.Parallel()
	setup := newFwdSetup(t)
	s := sink(t, nil)
	herald := startHerald(t, oneProvider(s.URL()+"/hook"), setup.ClusterTokens)
	fwd := startForwarder(t, setup, herald.URL()+"/", 0)

	// Authentication is on: an unsigned event straight to herald is refused,
	// so what arrives below went through the forwarder's signature.
	unsigned := fluxEvent("podinfo", "unsigned, straight to herald", 1)
	if status, _, reply := rawPost(t, herald.URL()+"/", unsigned); status != http.StatusUnauthorized {
		t.Fatalf("unsigned event to herald answered %d %q, want 401", status, reply)
	}

	rec := newRecorder(t, fwd.URL)
	obj := fluxObject(kustomizationGVK, ns, "podinfo", map[string]string{"event.toolkit.fluxcd.io/deploymentID": "d-7"})
	controllerMeta := map[string]string{
		"kustomize.toolkit.fluxcd.io/revision": revision,
		"kustomize.toolkit.fluxcd.io/token":    "tok-relay",
		"kustomize.toolkit.fluxcd.io/digest":   "sha256:0123",
	}
	message := "Deployment/apps/podinfo configured\nService/apps/podinfo unchanged & <more>"
	ex := rec.send(t, obj, controllerMeta, corev1.EventTypeWarning, "HealthCheckFailed", message)
	if ex.Status != http.StatusAccepted {
		t.Fatalf("the forwarder answered the recorder %d %q, want 202", ex.Status, ex.Reply)
	}
	if len(ex.Reply) != 0 {
		t.Errorf("202 body = %q, want empty", ex.Reply)
	}
	sent := decodeEvent(t, ex.Body)
	if sent.Severity != eventv1.EventSeverityError || sent.Metadata["kustomize.toolkit.fluxcd.io/token"] != "tok-relay" {
		t.Fatalf("the recorder sent an unexpected event: %s", ex.Body)
	}

	reqs, err := s.WaitFor(1, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}
	r := reqs[0]
	checkPost(t, r, "/hook")
	checkHeader(t, r, "Content-Type", "application/json")
	checkHeader(t, r, "Gotk-Component", "kustomize-controller")
	// Herald's signature headers stay on the hop from the forwarder.
	for _, h := range []string{"X-Herald-Cluster", "X-Herald-Timestamp", "X-Signature"} {
		checkHeader(t, r, h, "")
	}
	// Flux's clean-up (§1.3), and the cluster the forwarder authenticated as.
	want := withMetadata(sent, map[string]string{"cluster": fwdCluster, "deploymentID": "d-7", "revision": revision})
	checkBody(t, r.Body, want)

	// The same event again is Herald's duplicate: the forwarder accepts it
	// (it cannot know), Herald answers it as a duplicate, the forwarder
	// counts it as forwarded, and the provider gets nothing more.
	dup := rec.send(t, obj, controllerMeta, corev1.EventTypeWarning, "HealthCheckFailed", message)
	if dup.Status != http.StatusAccepted {
		t.Fatalf("the forwarder answered a repeated event %d %q, want 202", dup.Status, dup.Reply)
	}
	waitMetric(t, "forwarder", fwd.Metrics, "herald_forwarder_events_herald_duplicate_total", equals(1), deliveryMax)
	barrier := rec.send(t, obj, nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "barrier")
	if barrier.Status != http.StatusAccepted {
		t.Fatalf("barrier answered %d %q, want 202", barrier.Status, barrier.Reply)
	}
	if _, err := s.WaitForBody(`"message":"barrier"`, deliveryMax); err != nil {
		t.Fatal(err)
	}
	if got := settle(t, fwd, herald, s); len(got) != 2 {
		t.Errorf("the sink received %d events, want 2 (the first once, the barrier): %+v", len(got), got)
	}
	m, err := fwd.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`herald_forwarder_events_received_total{source="relay"}`:   3,
		`herald_forwarder_events_forwarded_total`:                  3,
		`herald_forwarder_events_retried_total`:                    0,
		`herald_forwarder_events_dropped_total{reason="rejected"}`: 0,
	} {
		if m[series] != want {
			t.Errorf("forwarder metric %s = %g, want %g", series, m[series], want)
		}
	}
	if strings.Contains(fwd.Output(), fwdToken) {
		t.Error("the forwarder logged the cluster token")
	}
}

// TestForwarderOutage: herald serve is down for 60 s while 1,000 events of
// several objects are posted to the forwarder; when herald is back on the
// same address, all 1,000 arrive, none twice, each object's in order.
func TestForwarderOutage(t *testing.T) {
	t.Parallel()
	const (
		objects   = 10
		perObject = 100
		outage    = 60 * time.Second
	)
	setup := newFwdSetup(t)
	s := sink(t, nil)
	// One delivery worker: herald's queue is then first in, first out, so
	// the order at the sink is the order herald accepted the events in,
	// which is what the forwarder controls.
	herald := startHerald(t, oneProvider(s.URL()+"/hook"), setup.ClusterTokens, "--workers", "1")
	fwd := startForwarder(t, setup, herald.URL()+"/", 0)

	herald.Down()
	down := time.Now()

	want := map[string][]string{}
	var all []string
	for o := range objects {
		name := fmt.Sprintf("outage-%02d", o)
		for i := range perObject {
			m := fmt.Sprintf("outage: %s event %03d", name, i)
			want[name] = append(want[name], m)
			all = append(all, m)
		}
	}
	// Each object's events in order, from its own goroutine, as a
	// controller would; the objects concurrently.
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	errs := make(chan error, objects)
	for name, msgs := range want {
		wg.Go(func() {
			for i, m := range msgs {
				status, _, reply, err := post(client, http.MethodPost, fwd.URL+"/", fluxEvent(name, m, i))
				if err != nil || status != http.StatusAccepted {
					errs <- fmt.Errorf("%s: status %d %q, error %v", m, status, reply, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("posting to the forwarder while herald is down: %v", err)
	}
	posted := time.Since(down)
	t.Logf("1,000 events accepted by the forwarder in %s while herald was down", posted.Round(time.Millisecond))

	// Herald stays down for the whole outage: the forwarder holds every
	// event and keeps trying.
	waitMetric(t, "forwarder", fwd.Metrics, "herald_forwarder_buffer_events", equals(float64(len(all))), time.Minute)
	waitMetric(t, "forwarder", fwd.Metrics, "herald_forwarder_events_retried_total", func(v float64) bool { return v > 0 }, time.Minute)
	time.Sleep(time.Until(down.Add(outage))) // the outage itself, not a synchronisation
	if n := len(s.Requests()); n != 0 {
		t.Fatalf("the sink received %d requests while herald was down", n)
	}
	m, err := fwd.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if age := m["herald_forwarder_buffer_oldest_event_age_seconds"]; age < outage.Seconds()-posted.Seconds()-1 {
		t.Errorf("oldest buffered event age %gs after a %s outage", age, outage)
	}

	herald.Up()
	up := time.Now()
	waitDelivered(t, s, all, drainMax)
	t.Logf("all %d events delivered %s after herald came back", len(all), time.Since(up).Round(time.Millisecond))
	got := settle(t, fwd, herald, s)
	if len(got) != len(all) {
		t.Errorf("the sink received %d events, want %d", len(got), len(all))
	}
	checkOnceInOrder(t, got, want)
	m, err = fwd.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if n := m["herald_forwarder_events_forwarded_total"]; n != float64(len(all)) {
		t.Errorf("forwarder counted %g events forwarded, want %d", n, len(all))
	}
	if n := m[`herald_forwarder_events_dropped_total{reason="buffer_full"}`] + m[`herald_forwarder_events_dropped_total{reason="rejected"}`]; n != 0 {
		t.Errorf("forwarder dropped %g events", n)
	}
}

// TestForwarderCrash: the forwarder is killed with SIGKILL while events are
// posted and buffered (herald down); restarted on the same buffer folder,
// it delivers every event it had answered 202, once.
func TestForwarderCrash(t *testing.T) {
	t.Parallel()
	const objects = 4
	setup := newFwdSetup(t)
	s := sink(t, nil)
	herald := startHerald(t, oneProvider(s.URL()+"/hook"), setup.ClusterTokens, "--workers", "1")
	herald.Down()
	fwd := startForwarder(t, setup, herald.URL()+"/", 0)

	// Posters run until the forwarder dies under them; each keeps the
	// messages answered 202, in order.
	var acceptedTotal atomic.Int64
	accepted := make([][]string, objects)
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for o := range objects {
		wg.Go(func() {
			name := fmt.Sprintf("crash-%02d", o)
			for i := 0; ; i++ {
				m := fmt.Sprintf("crash: %s event %05d", name, i)
				status, _, _, err := post(client, http.MethodPost, fwd.URL+"/", fluxEvent(name, m, i))
				if err != nil || status != http.StatusAccepted {
					return
				}
				accepted[o] = append(accepted[o], m)
				acceptedTotal.Add(1)
			}
		})
	}
	// Kill it mid-stream, once a few hundred are in.
	deadline := time.Now().Add(2 * time.Minute)
	for acceptedTotal.Load() < 400 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if err := fwd.Kill(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	want := map[string][]string{}
	var all []string
	for o, msgs := range accepted {
		want[fmt.Sprintf("crash-%02d", o)] = msgs
		all = append(all, msgs...)
	}
	if len(all) < 400 {
		t.Fatalf("only %d events accepted before the kill", len(all))
	}
	t.Logf("forwarder killed after answering 202 to %d events", len(all))

	// Restarted on the same folder, it holds every accepted event (and
	// perhaps some whose answer the kill cut off) before herald is back.
	fwd2 := startForwarder(t, setup, herald.URL()+"/", 0)
	waitMetric(t, "restarted forwarder", fwd2.Metrics, "herald_forwarder_buffer_events",
		func(v float64) bool { return v >= float64(len(all)) }, 5*time.Second)

	herald.Up()
	waitDelivered(t, s, all, drainMax)
	got := settle(t, fwd2, herald, s)
	checkOnceInOrder(t, got, want)
	if extra := len(got) - len(all); extra < 0 || extra > objects {
		t.Errorf("the sink received %d events for %d accepted: at most one per poster may be an event whose 202 the kill cut off", len(got), len(all))
	}
}

// TestForwarderFullBuffer: with herald down and a 1 MiB buffer, events of
// 100 KiB overflow it; the oldest are dropped and counted, the newest are
// delivered when herald is back.
func TestForwarderFullBuffer(t *testing.T) {
	t.Parallel()
	const (
		events  = 40
		msgSize = 100 << 10
		bufMax  = 1 << 20
	)
	setup := newFwdSetup(t)
	s := sink(t, nil)
	herald := startHerald(t, oneProvider(s.URL()+"/hook"), setup.ClusterTokens, "--workers", "1")
	herald.Down()
	fwd := startForwarder(t, setup, herald.URL()+"/", bufMax)

	client := &http.Client{Timeout: 30 * time.Second}
	var msgs []string
	for i := range events {
		// Distinct from the first bytes, so a log line or an error that
		// shows a prefix tells the events apart.
		m := fmt.Sprintf("full buffer event %02d ", i) + strings.Repeat("x", msgSize)
		status, _, reply, err := post(client, http.MethodPost, fwd.URL+"/", fluxEvent("big", m, i))
		if err != nil || status != http.StatusAccepted {
			t.Fatalf("event %d: status %d %q, error %v", i, status, reply, err)
		}
		msgs = append(msgs, m)
	}
	m, err := fwd.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	dropped := m[`herald_forwarder_events_dropped_total{reason="buffer_full"}`]
	held := m["herald_forwarder_buffer_events"]
	t.Logf("buffer after %d events of %d KiB: %g held (%g bytes), %g dropped", events, msgSize>>10, held, m["herald_forwarder_buffer_bytes"], dropped)
	if b := m["herald_forwarder_buffer_bytes"]; b > bufMax {
		t.Errorf("buffer holds %g bytes, over its bound of %d", b, bufMax)
	}
	if dropped+held != events {
		t.Errorf("%g held + %g dropped != %d posted", held, dropped, events)
	}
	if held < 5 {
		t.Errorf("only %g events held in a 1 MiB buffer of ~100 KiB events", held)
	}
	if !strings.Contains(fwd.Output(), "the buffer is full") {
		t.Error("the forwarder did not log the dropped events")
	}

	herald.Up()
	got := settle(t, fwd, herald, s)
	if len(got) != int(held) {
		t.Fatalf("the sink received %d events, the buffer held %g", len(got), held)
	}
	// The survivors are the newest: the last len(got) posted, in order.
	newest := msgs[events-len(got):]
	for i, d := range got {
		if d.Message != newest[i] {
			t.Errorf("delivery %d is %.24q, want %.24q: the oldest must go first", i, d.Message, newest[i])
		}
	}
	checkOnceInOrder(t, got, map[string][]string{"big": msgs})
	m, err = fwd.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	if n := m[`herald_forwarder_events_dropped_total{reason="buffer_full"}`]; n != dropped {
		t.Errorf("dropped count moved from %g to %g after herald came back", dropped, n)
	}
}

// TestForwarderBadInput: the relay answers what Flux's event server would
// refuse with a JSON error, and takes an event on any path and method.
func TestForwarderBadInput(t *testing.T) {
	t.Parallel()
	setup := newFwdSetup(t)
	// Nothing listens at herald's address: what the relay takes stays in
	// the buffer, where the metrics count it.
	nowhere, err := harness.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	fwd := startForwarder(t, setup, "http://"+nowhere+"/", 0)
	client := &http.Client{Timeout: 30 * time.Second}

	bigEvent, _ := json.Marshal(eventv1.Event{
		InvolvedObject: corev1.ObjectReference{Kind: "Kustomization", Namespace: ns, Name: "big", APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Severity:       "info", Reason: "Big", Message: strings.Repeat("x", 3<<20),
	})
	refused := []struct {
		name   string
		method string
		path   string
		body   []byte
		status int
	}{
		{"malformed JSON", http.MethodPost, "/", []byte(`{"involvedObject": {"kind": "Kustomization",`), http.StatusBadRequest},
		{"not an object", http.MethodPost, "/", []byte(`["an", "array"]`), http.StatusBadRequest},
		{"empty body", http.MethodPost, "/", nil, http.StatusBadRequest},
		{"missing involvedObject", http.MethodPost, "/", []byte(`{"severity":"info","message":"no object","reason":"R","reportingController":"kustomize-controller"}`), http.StatusBadRequest},
		{"missing involvedObject.namespace", http.MethodPost, "/", []byte(`{"involvedObject":{"kind":"Kustomization","name":"x"},"severity":"info","message":"m","reason":"R"}`), http.StatusBadRequest},
		{"over 3 MiB", http.MethodPost, "/", bigEvent, http.StatusRequestEntityTooLarge},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			status, h, reply, err := post(client, c.method, fwd.URL+c.path, c.body)
			if err != nil {
				t.Fatal(err)
			}
			if status != c.status {
				t.Errorf("status %d, want %d (body %q)", status, c.status, reply)
			}
			checkJSONError(t, c.name, h, reply)
		})
	}
	t.Run("over 3 MiB, chunked", func(t *testing.T) {
		// No Content-Length: the limit is enforced while reading.
		req, _ := http.NewRequest(http.MethodPost, fwd.URL+"/", struct{ *bytes.Reader }{bytes.NewReader(bigEvent)})
		req.ContentLength = -1
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("status %d, want 413", resp.StatusCode)
		}
	})

	// Any path and method, as Flux's event server.
	accepted := []struct{ method, path string }{
		{http.MethodPost, "/"},
		{http.MethodPut, "/foo/bar"},
		{http.MethodPatch, "/events"},
		{http.MethodPost, "/healthz"}, // only GET is the probe
		{http.MethodDelete, "/x?y=z"},
	}
	for i, c := range accepted {
		body := fluxEvent("anywhere", fmt.Sprintf("%s %s", c.method, c.path), i)
		status, _, reply, err := post(client, c.method, fwd.URL+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusAccepted || len(reply) != 0 {
			t.Errorf("%s %s: status %d %q, want 202 and no body", c.method, c.path, status, reply)
		}
	}
	// Exactly the accepted events went into the buffer; nothing refused did.
	n := float64(len(accepted))
	waitMetric(t, "forwarder", fwd.Metrics, `herald_forwarder_events_received_total{source="relay"}`, equals(n), deliveryMax)
	waitMetric(t, "forwarder", fwd.Metrics, "herald_forwarder_buffer_events", equals(n), deliveryMax)

	// The ops endpoints answer GET.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := client.Get(fwd.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", path, resp.StatusCode)
		}
	}
}
