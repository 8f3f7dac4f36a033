// Command fluxrecorder posts one event with Flux's newest event recorder
// (fluxcd/pkg/runtime/events of the version in go.mod), as a controller
// built with it posts, and prints the request it made, with the status it
// was answered, as JSON. With -ca-file it posts over HTTPS, as a controller
// given a TLS config does, straight to -url, and prints only that it posted.
// That runtime needs Go 1.27: build it with GOTOOLCHAIN=go1.27.3. The
// end-to-end tests run it to post with this recorder as well as with the
// older one of the tests module: a module requires one version of
// fluxcd/pkg/runtime, so this one is a module of its own.
package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/runtime/events"
	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
)

// exchange is what the recorder sent and what it was answered.
type exchange struct {
	Method string            `json:"method"`
	URL    string            `json:"url"`
	Header map[string]string `json:"header"`
	Body   json.RawMessage   `json:"body"`
	Status int               `json:"status"`
}

// proxy stands between the recorder and url, and records the exchange:
// the recorder's HTTP client cannot be reached from outside its package.
type proxy struct {
	target string
	mu     sync.Mutex
	seen   []exchange
}

func (p *proxy) record(ex exchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, ex)
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	out, err := http.NewRequest(req.Method, strings.TrimSuffix(p.target, "/")+req.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = req.Header.Clone()
	ex := exchange{Method: req.Method, URL: req.URL.RequestURI(), Header: map[string]string{}, Body: body}
	for k := range req.Header {
		ex.Header[k] = req.Header.Get(k)
	}
	resp, err := http.DefaultClient.Do(out)
	if err != nil {
		p.record(ex)
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	ex.Status = resp.StatusCode
	p.record(ex)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

type object struct{ apiVersion, kind, namespace, name, uid string }

func (o object) unstructured() *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(schema.FromAPIVersionAndKind(o.apiVersion, o.kind))
	u.SetNamespace(o.namespace)
	u.SetName(o.name)
	u.SetUID(types.UID(o.uid))
	u.SetResourceVersion("4242")
	return u
}

type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return fmt.Errorf("%q is not key=value", s)
	}
	p[k] = v
	return nil
}

func main() {
	var (
		url, controller, eventType, reason, action, message, caFile string
		obj, related                                                object
	)
	annotations := pairs{}
	flag.StringVar(&url, "url", "", "the event endpoint (Flux's --events-addr)")
	flag.StringVar(&controller, "controller", "kustomize-controller", "the reporting controller")
	flag.StringVar(&obj.apiVersion, "api-version", "kustomize.toolkit.fluxcd.io/v1", "the involved object's apiVersion")
	flag.StringVar(&obj.kind, "kind", "Kustomization", "the involved object's kind")
	flag.StringVar(&obj.namespace, "namespace", "flux-system", "the involved object's namespace")
	flag.StringVar(&obj.name, "name", "", "the involved object's name")
	flag.StringVar(&obj.uid, "uid", "0c9c2e41-d2f9-4f9b-9c41-aaaaaaaaaaaa", "the involved object's UID")
	flag.StringVar(&related.apiVersion, "related-api-version", "source.toolkit.fluxcd.io/v1", "the related object's apiVersion")
	flag.StringVar(&related.kind, "related-kind", "", "the related object's kind (none when empty)")
	flag.StringVar(&related.namespace, "related-namespace", "flux-system", "the related object's namespace")
	flag.StringVar(&related.name, "related-name", "", "the related object's name")
	flag.StringVar(&eventType, "type", "Normal", "Normal or Warning")
	flag.StringVar(&reason, "reason", "ReconciliationSucceeded", "the event's reason")
	flag.StringVar(&action, "action", "Reconcile", "the event's action")
	flag.StringVar(&message, "message", "", "the event's message")
	flag.Var(annotations, "annotation", "an annotation key=value of the event (repeatable)")
	flag.StringVar(&caFile, "ca-file", "", "post over HTTPS, trusting this PEM CA bundle")
	flag.Parse()
	e := eventArgs{controller, obj, related, annotations, eventType, reason, action, message}
	var err error
	if caFile != "" {
		err = postTLS(url, caFile, e)
	} else {
		err = post(url, e)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fluxrecorder:", err)
		os.Exit(1)
	}
}

// eventArgs is the event to record.
type eventArgs struct {
	controller        string
	obj, related      object
	annotations       map[string]string
	eventType, reason string
	action, message   string
}

// recordEvent posts e with a recorder built with opts to url, and returns once
// it has posted: the recorder posts before AnnotatedEventf returns.
func recordEvent(url string, e eventArgs, opts ...events.RecorderOption) error {
	k8s := record.NewFakeRecorder(10)
	opts = append([]events.RecorderOption{events.WithScheme(runtime.NewScheme()), events.WithLegacyEventRecorder(k8s), events.WithRetryMax(0)}, opts...)
	rec, err := events.NewRecorder(logr.FromSlogHandler(slog.DiscardHandler), url, e.controller, opts...)
	if err != nil {
		return err
	}
	var rel runtime.Object
	if e.related.kind != "" {
		rel = e.related.unstructured()
	}
	rec.AnnotatedEventf(e.obj.unstructured(), rel, e.annotations, e.eventType, e.reason, e.action, "%s", e.message)
	return nil
}

// postTLS posts over HTTPS as a controller given a TLS config does: the
// recorder switches the URL's scheme to https itself.
func postTLS(url, caFile string, e eventArgs) error {
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	if err := recordEvent(url, e, events.WithTLSConfig(&tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{"url": url, "tls": true})
}

func post(url string, e eventArgs) error {
	p := &proxy{target: url}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	if err := recordEvent("http://"+ln.Addr().String()+"/", e); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.seen) != 1 {
		return fmt.Errorf("the recorder made %d requests for one event, want 1", len(p.seen))
	}
	return json.NewEncoder(os.Stdout).Encode(p.seen[0])
}
