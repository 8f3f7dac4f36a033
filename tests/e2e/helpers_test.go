package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	eventv1 "github.com/fluxcd/pkg/apis/event/v1beta1"
	"github.com/fluxcd/pkg/runtime/events"
	"github.com/go-logr/logr/testr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// serve writes cfg to a temporary folder, starts `herald serve` on it and
// stops it when the test ends. On failure the test log gets herald's stderr.
func serve(t *testing.T, cfg harness.Config, args ...string) *harness.Process {
	t.Helper()
	dir := t.TempDir()
	if err := cfg.Write(dir); err != nil {
		t.Fatal(err)
	}
	p, err := harness.Start(heraldBin, dir, harness.Options{Args: args})
	if err != nil {
		t.Fatalf("starting herald serve: %v", err)
	}
	t.Cleanup(func() {
		stopErr := p.Stop()
		if stopErr != nil {
			t.Errorf("stopping herald: %v", stopErr)
		}
		if t.Failed() {
			t.Logf("herald serve stderr:\n%s", p.Stderr())
			if out := p.Stdout(); out != "" {
				t.Logf("herald serve stdout:\n%s", out)
			}
		}
	})
	return p
}

// sink starts a recording provider endpoint closed at the end of the test.
func sink(t *testing.T, respond harness.Responder) *harness.Sink {
	t.Helper()
	s := harness.NewSink(respond)
	t.Cleanup(s.Close)
	return s
}

// exchange is one HTTP request Flux's recorder made, and herald's answer.
type exchange struct {
	Body   []byte
	Status int
	Header http.Header
	Reply  []byte
}

// captureTransport records what the recorder's HTTP client sends and gets.
type captureTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	seen []exchange
}

func (c *captureTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := c.base.RoundTrip(req)
	ex := exchange{Body: body}
	if err == nil {
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(reply))
		ex.Status, ex.Header, ex.Reply = resp.StatusCode, resp.Header.Clone(), reply
	}
	c.mu.Lock()
	c.seen = append(c.seen, ex)
	c.mu.Unlock()
	return resp, err
}

func (c *captureTransport) take() []exchange {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.seen
	c.seen = nil
	return out
}

// fluxRecorder is Flux's event recorder, exactly as controllers build it,
// whose HTTP exchanges are captured.
type fluxRecorder struct {
	*events.Recorder
	capture *captureTransport
}

func newRecorder(t *testing.T, heraldURL string) *fluxRecorder {
	t.Helper()
	k8s := record.NewFakeRecorder(10)
	go func() { // the fake recorder blocks once its buffer is full
		for range k8s.Events {
		}
	}()
	t.Cleanup(func() { close(k8s.Events) })
	rec, err := events.NewRecorderForScheme(runtime.NewScheme(), k8s, testr.New(t), heraldURL+"/", "kustomize-controller")
	if err != nil {
		t.Fatal(err)
	}
	c := &captureTransport{base: rec.Client.HTTPClient.Transport}
	rec.Client.HTTPClient.Transport = c
	return &fluxRecorder{Recorder: rec, capture: c}
}

// send records an event and returns the single HTTP exchange it caused.
func (r *fluxRecorder) send(t *testing.T, obj runtime.Object, annotations map[string]string, eventType, reason, message string) exchange {
	t.Helper()
	r.AnnotatedEventf(obj, annotations, eventType, reason, "%s", message)
	seen := r.capture.take()
	if len(seen) != 1 {
		t.Fatalf("recorder made %d HTTP request(s) for one event, want 1: %+v", len(seen), seen)
	}
	return seen[0]
}

// fluxObject is a Flux object as controllers hand it to the recorder.
func fluxObject(gvk schema.GroupVersionKind, namespace, name string, annotations map[string]string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetUID(types.UID("0c9c2e41-d2f9-4f9b-9c41-" + strings.Repeat("a", 12)))
	u.SetResourceVersion("4242")
	u.SetAnnotations(annotations)
	return u
}

var (
	kustomizationGVK = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	gitRepositoryGVK = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
)

// decodeEvent parses a body with Flux's own event type.
func decodeEvent(t *testing.T, body []byte) eventv1.Event {
	t.Helper()
	var ev eventv1.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatalf("recorder body is not a Flux event: %v\n%s", err, body)
	}
	return ev
}

// rawPost sends body to herald without Flux's client, for what it cannot express.
func rawPost(t *testing.T, url string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, reply
}

// checkJSONError asserts a 4xx answer carries {"error": "..."} as JSON.
func checkJSONError(t *testing.T, what string, header http.Header, body []byte) {
	t.Helper()
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var e map[string]any
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: error body is not JSON: %v: %q", what, err, body)
		return
	}
	msg, ok := e["error"].(string)
	if !ok || msg == "" {
		t.Errorf(`%s: error body %s lacks a non-empty "error" string`, what, body)
	}
}

// headerValue returns the only value of a header, failing when it is repeated.
func headerValue(t *testing.T, what string, h http.Header, key string) string {
	t.Helper()
	vs := h.Values(key)
	if len(vs) > 1 {
		t.Errorf("%s: header %s repeated: %q", what, key, vs)
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}
