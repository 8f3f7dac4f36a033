package msteams_test

import (
	"context"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/msteams"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const message = "Applied revision: " + notifytest.Revision

// The Adaptive Card and MessageCard of the behaviour reference §4.2, for
// the reference event with metadata {summary, env, revision}.
const (
	referenceCard = `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"Container","items":[{"type":"TextBlock","text":"kustomization/podinfo.flux-system","size":"large","weight":"bolder","wrap":true},{"type":"TextBlock","text":"` + message + `","wrap":true},{"type":"FactSet","facts":[{"title":"summary","value":"cluster-1"},{"title":"env","value":"prod"},{"title":"revision","value":"` + notifytest.Revision + `"}]}]}],"msteams":{"width":"Full"}}}]}`
	// Errors colour the message, between "text" and "wrap"; no metadata
	// leaves a bare FactSet.
	referenceErrorCard      = `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"Container","items":[{"type":"TextBlock","text":"kustomization/podinfo.flux-system","size":"large","weight":"bolder","wrap":true},{"type":"TextBlock","text":"` + message + `","color":"attention","wrap":true},{"type":"FactSet"}]}],"msteams":{"width":"Full"}}}]}`
	referenceConnector      = `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"0076D7","summary":"kustomization/podinfo.flux-system","sections":[{"activityTitle":"` + message + `","activitySubtitle":"kustomization/podinfo.flux-system","facts":[{"name":"env","value":"prod"},{"name":"revision","value":"` + notifytest.Revision + `"},{"name":"summary","value":"cluster-1"}]}]}`
	referenceErrorConnector = `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"FF0000","summary":"kustomization/podinfo.flux-system","sections":[{"activityTitle":"` + message + `","activitySubtitle":"kustomization/podinfo.flux-system","facts":[]}]}`
)

func newNotifier(t *testing.T, address string, schema msteams.Schema) *msteams.Notifier {
	t.Helper()
	n, err := msteams.New(notify.Config{Address: notify.Secret(address)})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tn := n
	tn.Schema = schema
	return tn
}

func send(t *testing.T, schema msteams.Schema, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, sink.URL+"/workflows/abc/triggers/manual/paths/invoke?sig=xyz", schema)
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	return sink.Last(t)
}

func TestGolden(t *testing.T) {
	schemas := map[string]msteams.Schema{"adaptivecard": msteams.SchemaAdaptiveCard, "connector": msteams.SchemaConnector}
	cases := map[string]event.Event{
		"info":              notifytest.ReferenceEvent(event.SeverityInfo, true),
		"info-no-metadata":  notifytest.ReferenceEvent(event.SeverityInfo, false),
		"error":             notifytest.ReferenceEvent(event.SeverityError, true),
		"error-no-metadata": notifytest.ReferenceEvent(event.SeverityError, false),
	}
	for sname, schema := range schemas {
		for cname, ev := range cases {
			name := sname + "-" + cname
			t.Run(name, func(t *testing.T) { notifytest.AssertGolden(t, name, send(t, schema, ev)) })
		}
	}
}

func TestReferenceBodies(t *testing.T) {
	withFacts := notifytest.ReferenceEvent(event.SeverityInfo, true)
	withFacts.Metadata["summary"] = "cluster-1"
	withFacts.Metadata["env"] = "prod"
	tests := []struct {
		name   string
		schema msteams.Schema
		ev     event.Event
		want   string
	}{
		{"adaptive card", msteams.SchemaAdaptiveCard, withFacts, referenceCard},
		{"adaptive card error", msteams.SchemaAdaptiveCard, notifytest.ReferenceEvent(event.SeverityError, false), referenceErrorCard},
		{"connector", msteams.SchemaConnector, withFacts, referenceConnector},
		{"connector error", msteams.SchemaConnector, notifytest.ReferenceEvent(event.SeverityError, false), referenceErrorConnector},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(send(t, tc.schema, tc.ev).Body); got != tc.want {
				t.Errorf("body:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// Flux's teams_test.go TestMSTeams_Post: the exact card map and the
// connector's subtitle and facts, for testEvent().
func TestFluxVector(t *testing.T) {
	const card = `{"type":"message","attachments":[{"contentType":"application/vnd.microsoft.card.adaptive","content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json","type":"AdaptiveCard","version":"1.4","body":[{"type":"Container","items":[{"type":"TextBlock","text":"gitrepository/webapp.gitops-system","size":"large","weight":"bolder","wrap":true},{"type":"TextBlock","text":"message","wrap":true},{"type":"FactSet","facts":[{"title":"test","value":"metadata"}]}]}],"msteams":{"width":"Full"}}}]}`
	const connector = `{"@type":"MessageCard","@context":"http://schema.org/extensions","themeColor":"0076D7","summary":"gitrepository/webapp.gitops-system","sections":[{"activityTitle":"message","activitySubtitle":"gitrepository/webapp.gitops-system","facts":[{"name":"test","value":"metadata"}]}]}`
	if got := string(send(t, msteams.SchemaAdaptiveCard, notifytest.FluxTestEvent()).Body); got != card {
		t.Errorf("adaptive card:\n got %s\nwant %s", got, card)
	}
	if got := string(send(t, msteams.SchemaConnector, notifytest.FluxTestEvent()).Body); got != connector {
		t.Errorf("connector:\n got %s\nwant %s", got, connector)
	}
}

// Flux's TestNewMSTeams table, and look-alikes: only a host (without its
// port) ending in ".webhook.office.com" selects the connector.
func TestSchemaDetection(t *testing.T) {
	tests := []struct {
		name, url string
		want      msteams.Schema
	}{
		{"deprecated connector url", "https://xxx.webhook.office.com", msteams.SchemaConnector},
		{"deprecated connector url with port", "https://xxx.webhook.office.com:443", msteams.SchemaConnector},
		{"url close to deprecated connector url but different", "https://xxx-webhook.office.com", msteams.SchemaAdaptiveCard},
		{"incoming webhook workflow url", "https://prod-28.northeurope.logic.azure.com:443/workflows/xxx/triggers/manual/paths/invoke", msteams.SchemaAdaptiveCard},
		{"connector with path", "https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d", msteams.SchemaConnector},
		{"connector with userinfo and other port", "https://u:p@contoso.webhook.office.com:8443/webhookb2/x", msteams.SchemaConnector},
		{"suffix without the leading dot", "https://webhook.office.com/webhookb2/x", msteams.SchemaAdaptiveCard},
		{"suffix followed by another domain", "https://xxx.webhook.office.com.example.org/x", msteams.SchemaAdaptiveCard},
		{"suffix in the userinfo", "https://xxx.webhook.office.com@example.org/x", msteams.SchemaAdaptiveCard},
		{"suffix in the path", "https://example.org/xxx.webhook.office.com", msteams.SchemaAdaptiveCard},
		{"suffix in the query", "https://example.org/x?h=xxx.webhook.office.com", msteams.SchemaAdaptiveCard},
		// Flux compares case-sensitively.
		{"upper-case host", "https://XXX.WEBHOOK.OFFICE.COM/x", msteams.SchemaAdaptiveCard},
		// The older outlook.office.com connectors are not recognised by Flux.
		{"outlook connector", "https://outlook.office.com/webhook/x", msteams.SchemaAdaptiveCard},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := msteams.New(notify.Config{Address: notify.Secret(tc.url)})
			if err != nil {
				t.Fatal(err)
			}
			if got := n.Schema; got != tc.want {
				t.Errorf("Schema = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ address, want string }{
		{"", "invalid address: empty url"},
		{"contoso.webhook.office.com/webhookb2/" + notifytest.LeakPathToken, "invalid address: invalid URI for request"},
	}
	for _, tc := range tests {
		_, err := msteams.New(notify.Config{Address: notify.Secret(tc.address)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q): err = %v, want %q", tc.address, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	for name, schema := range map[string]msteams.Schema{"adaptivecard": msteams.SchemaAdaptiveCard, "connector": msteams.SchemaConnector} {
		t.Run(name, func(t *testing.T) {
			notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
				return newNotifier(t, address, schema)
			})
		})
	}
}

func TestNoSecretLeak(t *testing.T) {
	for name, schema := range map[string]msteams.Schema{"adaptivecard": msteams.SchemaAdaptiveCard, "connector": msteams.SchemaConnector} {
		t.Run(name, func(t *testing.T) {
			notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
				n, err := msteams.New(cfg)
				if err == nil {
					n.Schema = schema
				}
				return n, err
			})
		})
	}
}
