package lark_test

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/lark"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const hookPath = "/open-apis/bot/v2/hook/0d9f1c2b-0000-0000-0000-000000000000"

func notifyOnce(t *testing.T, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	n := notifytest.New(t, lark.New, notify.Config{Address: notify.Secret(sink.URL + hookPath)})
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	notifytest.RunGolden(t, notifyOnce)
}

// The §4.2 shape for the reference event, independently of the golden files.
func TestReferenceBody(t *testing.T) {
	req := notifyOnce(t, notifytest.ReferenceEvent(event.SeverityError, true))
	const want = `{"msg_type":"interactive","card":{"config":{"wide_screen_mode":true},"header":{"title":{"tag":"plain_text","content":"🚨 kustomization/podinfo.flux-system"},"template":"red"},"elements":[{"tag":"div","text":{"tag":"lark_md","content":"**Applied revision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07**\n\nrevision: main@sha1:a1afe267b54f38b46b487f6e938a6fd508278c07\n"}}]}}`
	if string(req.Body) != want {
		t.Errorf("body:\n got %s\nwant %s", req.Body, want)
	}
}

// Flux's lark_test.go: header title and template, and the element text;
// metadata lines come sorted by key.
func TestPayload(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Metadata = map[string]string{"test": "metadata", "a": "<b>"}
	p := lark.NewPayload(ev)
	if got := p.Card.Header.Title.Content; got != "💫 gitrepository/webapp.gitops-system" {
		t.Errorf("title = %q", got)
	}
	if p.Card.Header.Template != "turquoise" {
		t.Errorf("template = %q", p.Card.Header.Template)
	}
	if got := p.Card.Elements[0].Text.Content; got != "**message**\n\na: <b>\ntest: metadata\n" {
		t.Errorf("content = %q", got)
	}
	// encoding/json escapes <, > and & as Flux's body does.
	req := notifyOnce(t, ev)
	const want = `"content":"**message**\n\na: \u003cb\u003e\ntest: metadata\n"`
	if !strings.Contains(string(req.Body), want) {
		t.Errorf("body %s lacks %s", req.Body, want)
	}
}

func TestNewError(t *testing.T) {
	_, err := lark.New(notify.Config{Address: "open.larksuite.com/hook/" + notifytest.LeakPathToken})
	if err == nil || err.Error() != "invalid address: invalid URI for request" {
		t.Fatalf("err = %v", err)
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(lark.New, notify.Config{}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, lark.New)
}
