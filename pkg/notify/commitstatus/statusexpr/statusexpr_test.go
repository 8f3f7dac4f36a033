package statusexpr_test

import (
	"context"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/commitstatus/statusexpr"
)

func exprInput(t *testing.T) statusexpr.Input {
	t.Helper()
	alert, err := statusexpr.ObjectMap(api.Alert{
		TypeMeta: api.TypeMeta{APIVersion: "notification.toolkit.fluxcd.io/v1beta3", Kind: "Alert"},
		Metadata: api.ObjectMeta{Name: "test-alert", Namespace: "flux-system"},
	})
	if err != nil {
		t.Fatal(err)
	}
	provider, err := statusexpr.ObjectMap(api.Provider{
		Metadata: api.ObjectMeta{Name: "github", UID: "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"},
		Spec:     api.ProviderSpec{Type: "github"},
	})
	if err != nil {
		t.Fatal(err)
	}
	ev := kustomization("ApplySucceeded", event.SeverityInfo, map[string]string{"environment": "production"})
	return statusexpr.Input{Event: ev, Alert: alert, Provider: provider}
}

// provider_commit_status_test.go's Test_newCommitStatus, with the error
// texts Flux puts on the Alert.
func TestExpr(t *testing.T) {
	tests := []struct {
		expr, want, wantCompileErr, wantEvalErr string
	}{
		{expr: "event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.environment + '/' + provider.metadata.uid + '/' + alert.metadata.name",
			want: "Kustomization/gitops-system/production/0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a/test-alert"},
		{expr: "(event.involvedObject.kind + '/' + event.involvedObject.name + '/' + event.metadata.environment + '/' + provider.metadata.uid + '/' + alert.metadata.name).lowerAscii()",
			want: "kustomization/gitops-system/production/0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a/test-alert"},
		{expr: "event.involvedObject.kind + '/' + event.involvedObject.name + '/' + notification.metadata.name",
			wantCompileErr: "failed to compile expression: failed to parse the CEL expression 'event.involvedObject.kind + '/' + event.involvedObject.name + '/' + notification.metadata.name': ERROR: <input>:1:69: undeclared reference to 'notification'"},
		{expr: "kustomization.metadata.name + '/' + provider.metadata.uid",
			wantCompileErr: "undeclared reference to 'kustomization'"},
		{expr: "event.metadata.environment", wantCompileErr: "failed to compile expression: CEL expression output type mismatch: expected string, got dyn"},
		{expr: "1 + 1", wantCompileErr: "CEL expression output type mismatch: expected string, got int"},
		{expr: "'(", wantCompileErr: "failed to parse the CEL expression ''(': ERROR: <input>:1:1: Syntax error"},
		{expr: "event.metadata.missing + 'x'", wantEvalErr: "failed to evaluate the CEL expression 'event.metadata.missing + 'x'': no such key: missing"},
		{expr: "provider.spec.type + '/' + event.involvedObject.namespace + '/' + alert.kind", want: "github/flux-system/Alert"},
		{expr: "event.severity == 'info' ? 'ok' : 'ko'", want: "ok"},
		{expr: "'%s/%s'.format([event.involvedObject.kind, event.reason])", want: "Kustomization/ApplySucceeded"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			e, err := statusexpr.Compile(tc.expr)
			if tc.wantCompileErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), statusexpr.ErrorPrefix) || !strings.Contains(err.Error(), tc.wantCompileErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantCompileErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if e.String() != tc.expr {
				t.Errorf("String = %q", e.String())
			}
			got, err := e.Eval(context.Background(), exprInput(t))
			if tc.wantEvalErr != "" {
				if err == nil || err.Error() != statusexpr.ErrorPrefix+tc.wantEvalErr {
					t.Fatalf("err = %v\nwant %s%s", err, statusexpr.ErrorPrefix, tc.wantEvalErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("Eval = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// One compiled expression serves concurrent events, and a nil object is an
// empty map.
func TestExprConcurrent(t *testing.T) {
	e, err := statusexpr.Compile("event.involvedObject.name + '/' + event.metadata.environment")
	if err != nil {
		t.Fatal(err)
	}
	in := exprInput(t)
	in.Alert, in.Provider = nil, nil
	done := make(chan string)
	for range 8 {
		go func() {
			got, err := e.Eval(context.Background(), in)
			if err != nil {
				got = err.Error()
			}
			done <- got
		}()
	}
	for range 8 {
		if got := <-done; got != "gitops-system/production" {
			t.Errorf("Eval = %q", got)
		}
	}
}

// The event map has the event's JSON keys, metadata unprefixed as given.
func TestEventMap(t *testing.T) {
	m, err := statusexpr.EventMap(exprInput(t).Event)
	if err != nil {
		t.Fatal(err)
	}
	obj := m["involvedObject"].(map[string]any)
	if obj["kind"] != "Kustomization" || m["severity"] != "info" || m["timestamp"] != nil ||
		m["metadata"].(map[string]any)["environment"] != "production" {
		t.Errorf("EventMap = %v", m)
	}
	if _, err := statusexpr.ObjectMap("a string"); err == nil {
		t.Error("ObjectMap accepts a non-object")
	}
}

func kustomization(reason, severity string, metadata map[string]string) event.Event {
	return event.Event{
		InvolvedObject: event.ObjectReference{Kind: "Kustomization", Name: "gitops-system", Namespace: "flux-system",
			APIVersion: "kustomize.toolkit.fluxcd.io/v1"},
		Reason: reason, Severity: severity, Metadata: metadata,
	}
}

func FuzzCompile(f *testing.F) {
	for _, s := range []string{"event.involvedObject.name + 'x'", "'(", "1 + 1", "[1,2].map(x, x)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		_, _ = statusexpr.Compile(src)
	})
}
