package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/memory"
)

// TestHookResourceFilters: a generic Receiver's filters, decided as far as
// the call allows; what reads res is recorded with the request.
func TestHookResourceFilters(t *testing.T) {
	resource := func(name, filter string) api.ReceiverResource {
		return api.ReceiverResource{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "GitRepository", Name: name}, Filter: filter}
	}
	for _, tc := range []struct {
		name        string
		top         string
		resources   []api.ReceiverResource
		contentType string
		body        string
		status      int
		msg         string
		// want lists the recorded requests as name=filter.
		want []string
	}{
		{name: "excluded by req", top: `req.ref == 'refs/heads/main'`, resources: []api.ReceiverResource{resource("podinfo", "")},
			contentType: "application/json", body: `{"ref":"refs/heads/dev"}`, status: 200},
		{name: "selected by req", top: `req.ref == 'refs/heads/main'`, resources: []api.ReceiverResource{resource("podinfo", "")},
			contentType: "application/json", body: `{"ref":"refs/heads/main"}`, status: 200, want: []string{"podinfo="}},
		{name: "mixed, the rest recorded", top: `req.ref == 'refs/heads/main' && res.metadata.labels.env == 'prod'`,
			resources:   []api.ReceiverResource{resource("podinfo", ""), resource("*", `has(req.after) && res.metadata.name != 'x'`)},
			contentType: "application/json; charset=utf-8", body: `{"ref":"refs/heads/main","after":"abc"}`, status: 200,
			want: []string{`podinfo=res.metadata.labels.env == "prod"`, `*=(res.metadata.labels.env == "prod") ? (res.metadata.name != "x") : false`}},
		{name: "a body that is not JSON reads as {}", top: `!has(req.ref) && res.kind == 'GitRepository'`, resources: []api.ReceiverResource{resource("podinfo", "")},
			contentType: "text/plain", body: `{"ref":"refs/heads/main"}`, status: 200, want: []string{`podinfo=res.kind == "GitRepository"`}},
		{name: "bad JSON with filters", top: `true`, resources: []api.ReceiverResource{resource("podinfo", "")},
			contentType: "application/json", body: `{"ref":`, status: 500, msg: "failed to parse request body as JSON: unexpected EOF"},
		{name: "bad JSON without filters is fine", resources: []api.ReceiverResource{resource("podinfo", "")},
			contentType: "application/json", body: `{"ref":`, status: 200, want: []string{"podinfo="}},
		{name: "an evaluation error fails its resource alone", resources: []api.ReceiverResource{resource("podinfo", `req.missing == 'x'`), resource("flagger", `res.metadata.name == req.ref`)},
			contentType: "application/json", body: `{"ref":"flagger"}`, status: 500,
			msg:  `resources[0] (kind="GitRepository", name="podinfo"): failed to evaluate the CEL expression 'req.missing == 'x'': no such key: missing`,
			want: []string{`flagger=res.metadata.name == "flagger"`}},
		{name: "a filter that does not compile fails the call", resources: []api.ReceiverResource{resource("podinfo", `claims.sub == 'x'`), resource("flagger", "")},
			contentType: "application/json", body: `{}`, status: 500, msg: "undeclared reference to 'claims'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := receiverObject("filtered", "generic", false, nil)
			rcv.Spec.ResourceFilter = tc.top
			for i := range tc.resources {
				tc.resources[i].MatchLabels = map[string]string{"app": "podinfo"}
			}
			rcv.Spec.Resources = tc.resources
			cfg := &api.Config{
				Receivers: []api.Receiver{rcv},
				Secrets:   []api.Secret{{Metadata: api.ObjectMeta{Name: "hook-token", Namespace: "flux-system"}, Data: map[string][]byte{"token": []byte(hookToken)}}},
			}
			snap, err := config.NewSnapshot(cfg, noNotifier, config.SnapshotOptions{IndexReceivers: true})
			if err != nil {
				t.Fatal(err)
			}
			requests := memory.NewReconcileRequests(time.Hour)
			h := &Hooks{Lookup: SnapshotReceivers(staticConfig{snap}), Verifier: new(receiver.Verifier), Requests: requests,
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
			call := httptest.NewRequest(http.MethodPost, receiver.Path([]byte(hookToken), "filtered", "flux-system"), strings.NewReader(tc.body))
			call.Header.Set("Content-Type", tc.contentType)
			rec := serve(h, call)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body.String())
			}
			if tc.msg != "" {
				if msg := errorOf(t, rec); !strings.Contains(msg, tc.msg) {
					t.Fatalf("error %q does not say %q", msg, tc.msg)
				}
			}
			recorded, err := requests.ListReconcileRequests(context.Background(), store.AllClusters, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range recorded {
				got = append(got, r.Name+"="+r.Filter)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Fatalf("recorded\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
			}
		})
	}
}
