package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
	"github.com/heraldhq/herald/cmd/forwarder/internal/metrics"
	"github.com/heraldhq/herald/internal/testlog"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// TestReceiverFiltersSelectFluxsObjects runs a Receiver's filters across
// the split: the receiver decides them for a call (receiver.Requests, as
// the webhook handler does), the requests cross the poll's JSON, and the
// poller decides the rest per object against a real API server. The
// objects annotated must be the ones Flux's receiver would annotate.
func TestReceiverFiltersSelectFluxsObjects(t *testing.T) {
	env := kubetest.Start(t)
	ns := env.Namespace(t)
	git, ks := kubetest.GitRepository, kubetest.Kustomization
	objects := []struct {
		gvr    string
		name   string
		labels map[string]string
		want   bool
	}{
		{"git", "podinfo", map[string]string{"app": "podinfo", "env": "prod"}, true},
		{"git", "podinfo-dev", map[string]string{"app": "podinfo", "env": "dev"}, false},     // resourceFilter: env from claims
		{"git", "podinfo-canary", map[string]string{"app": "podinfo", "env": "prod"}, false}, // the resource's filter
		{"git", "podinfo-other", map[string]string{"app": "other", "env": "prod"}, false},    // matchLabels
		{"git", "flagger", map[string]string{"app": "flagger", "env": "prod"}, true},         // by name, resourceFilter only
		{"git", "named-dev", map[string]string{"env": "prod"}, false},                        // its filter is false for this call
		{"git", "broken", map[string]string{"app": "broken", "env": "prod"}, false},          // its filter fails
		{"ks", "apps", map[string]string{"env": "prod", "team": "platform"}, true},           // team in claims.groups
		{"ks", "infra", map[string]string{"env": "prod", "team": "ops"}, false},              // team not in claims.groups
		{"ks", "no-team", map[string]string{"env": "prod"}, false},                           // has() guards the missing label
	}
	for _, o := range objects {
		gvr := git
		if o.gvr == "ks" {
			gvr = ks
		}
		env.Create(t, gvr, ns, o.name, o.labels)
	}

	resource := func(apiVersion, kind, name string, labels map[string]string, filter string) api.ReceiverResource {
		return api.ReceiverResource{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{
			APIVersion: apiVersion, Kind: kind, Name: name, Namespace: ns, MatchLabels: labels}, Filter: filter}
	}
	ksVersion := kubetest.APIVersion(ks)
	rcv := &api.Receiver{
		Metadata: api.ObjectMeta{Name: "oidc", Namespace: "flux-system"},
		Spec: api.ReceiverSpec{
			Type:           "generic-oidc",
			ResourceFilter: `req.ref == 'refs/heads/main' && res.metadata.labels.env == claims.env`,
			Resources: []api.ReceiverResource{
				resource("", "GitRepository", "*", map[string]string{"app": "podinfo"}, `res.metadata.name.startsWith(req.repository.name) && !res.metadata.name.endsWith('-canary')`),
				resource("", "GitRepository", "flagger", nil, ""),
				resource("", "GitRepository", "named-dev", nil, `req.ref == 'refs/heads/dev'`),
				resource("", "GitRepository", "*", map[string]string{"app": "broken"}, `res.metadata.annotations.owner == 'x'`),
				resource(ksVersion, "Kustomization", "*", map[string]string{"env": "prod"}, `has(res.metadata.labels.team) && res.metadata.labels.team in claims.groups`),
			},
		},
	}
	call := &receiver.Request{Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(`{"ref":"refs/heads/main","repository":{"name":"podinfo"}}`)}
	verified := receiver.Result{Body: call.Body, Claims: map[string]any{"env": "prod", "groups": []any{"platform", "web"}}}
	now := time.Now()
	reqs, err := receiver.Requests(context.Background(), rcv, call, verified, now)
	if err != nil {
		t.Fatal(err)
	}
	// named-dev's filter is false for this call: no request at all.
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4: %+v", len(reqs), reqs)
	}
	var sent []Request
	for i, r := range reqs {
		r.ID = fmt.Sprint(i + 1)
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var got Request
		if err := json.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, got)
	}

	p, _, _ := newPoller(t, sent...)
	kc, err := kube.NewClientForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	p.Kube = kc
	p.Metrics = metrics.New(nil)
	var logs testlog.Buffer
	p.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	cursor, _, err := p.PollOnce(context.Background(), "")
	if err != nil || cursor != "4" {
		t.Fatalf("PollOnce = %q, %v; want every request applied or skipped for good", cursor, err)
	}

	value := now.UTC().String()
	var annotated, wantAnnotated []string
	for _, o := range objects {
		gvr := git
		if o.gvr == "ks" {
			gvr = ks
		}
		if env.Get(t, gvr, ns, o.name).GetAnnotations()[kube.RequestedAtAnnotation] == value {
			annotated = append(annotated, o.name)
		}
		if o.want {
			wantAnnotated = append(wantAnnotated, o.name)
		}
	}
	if !slices.Equal(annotated, wantAnnotated) {
		t.Fatalf("annotated %v, want exactly %v", annotated, wantAnnotated)
	}

	// The failing filter is reported as Flux reports it, with the
	// Receiver and the object, and counted.
	log := logs.String()
	wantErr := `failed to evaluate the CEL expression '(res.metadata.labels.env == \"prod\") ? (res.metadata.annotations.owner == \"x\") : false': no such key: annotations`
	if !strings.Contains(log, `"msg":"unable to request reconciliation"`) || !strings.Contains(log, `"receiver":"flux-system/oidc"`) ||
		!strings.Contains(log, `"object":"GitRepository `+ns+`/broken"`) || !strings.Contains(log, wantErr) {
		t.Fatalf("the log does not report the failing filter as Flux does:\n%s", log)
	}
	counts := metricCounts(t, p.Metrics)
	for outcome, want := range map[string]float64{"applied": 3, "filter_error": 1, "skipped": 0, "failed": 0} {
		if got := counts[outcome]; got != want {
			t.Errorf("reconcile requests %s = %g, want %g", outcome, got, want)
		}
	}
}

// metricCounts reads herald_forwarder_reconcile_requests_total by outcome.
func metricCounts(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := map[string]float64{}
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		rest, ok := strings.CutPrefix(line, `herald_forwarder_reconcile_requests_total{outcome="`)
		if !ok {
			continue
		}
		outcome, value, _ := strings.Cut(rest, `"} `)
		var v float64
		fmt.Sscan(value, &v)
		out[outcome] = v
	}
	return out
}
