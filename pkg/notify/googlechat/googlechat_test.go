package googlechat_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/googlechat"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const message = "Applied revision: " + notifytest.Revision

// The body of the behaviour reference §4.2 for the reference event, as
// info with metadata and as error without.
const (
	referenceInfo  = `{"cards":[{"header":{"title":"kustomization/podinfo.flux-system","subtitle":"kustomize-controller","imageUrl":null,"imageStyle":null},"sections":[{"header":"","widgets":[{"textParagraph":{"text":"` + message + `"},"keyValue":null}]},{"header":"","widgets":[{"textParagraph":null,"keyValue":{"topLabel":"revision","content":"` + notifytest.Revision + `","contentMultiline":false,"bottomLabel":null,"icon":null}}]}]}]}`
	referenceError = `{"cards":[{"header":{"title":"kustomization/podinfo.flux-system","subtitle":"kustomize-controller","imageUrl":null,"imageStyle":null},"sections":[{"header":"","widgets":[{"textParagraph":{"text":"\u003cfont color=\"#ff0000\"\u003e` + message + `\u003c/font\u003e"},"keyValue":null}]}]}]}`
)

func send(t *testing.T, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	n := notifytest.New(t, googlechat.New, notify.Config{Address: notify.Secret(sink.URL + "/v1/spaces/AAAA/messages?key=k&token=t")})
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	notifytest.RunGolden(t, send)
}

func TestReferenceBodies(t *testing.T) {
	if got := string(send(t, notifytest.ReferenceEvent(event.SeverityInfo, true)).Body); got != referenceInfo {
		t.Errorf("info:\n got %s\nwant %s", got, referenceInfo)
	}
	if got := string(send(t, notifytest.ReferenceEvent(event.SeverityError, false)).Body); got != referenceError {
		t.Errorf("error:\n got %s\nwant %s", got, referenceError)
	}
}

// Flux's google_chat_test.go: title, subtitle, text and the key/value.
func TestFluxVector(t *testing.T) {
	const want = `{"cards":[{"header":{"title":"gitrepository/webapp.gitops-system","subtitle":"source-controller","imageUrl":null,"imageStyle":null},"sections":[{"header":"","widgets":[{"textParagraph":{"text":"message"},"keyValue":null}]},{"header":"","widgets":[{"textParagraph":null,"keyValue":{"topLabel":"test","content":"metadata","contentMultiline":false,"bottomLabel":null,"icon":null}}]}]}]}`
	if got := string(send(t, notifytest.FluxTestEvent()).Body); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Flux's order is that of a Go map range; Herald sorts by key.
func TestMetadataSorted(t *testing.T) {
	ev := notifytest.FluxTestEvent()
	ev.Metadata = map[string]string{"b": "2", "c": "3", "a": "1"}
	kv := googlechat.NewPayload(ev).Cards[0].Sections[1].Widgets
	if len(kv) != 3 || kv[0].KeyValue.TopLabel != "a" || kv[1].KeyValue.TopLabel != "b" || kv[2].KeyValue.TopLabel != "c" {
		t.Errorf("widgets not sorted by key: %+v %+v %+v", kv[0].KeyValue, kv[1].KeyValue, kv[2].KeyValue)
	}
}

func TestNewErrors(t *testing.T) {
	tests := []struct{ address, want string }{
		{"", "invalid address: empty url"},
		{"chat.googleapis.com/v1/spaces/x/messages?key=" + notifytest.LeakQueryToken, "invalid address: invalid URI for request"},
	}
	for _, tc := range tests {
		_, err := googlechat.New(notify.Config{Address: notify.Secret(tc.address)})
		if err == nil || err.Error() != tc.want {
			t.Errorf("New(%q): err = %v, want %q", tc.address, err, tc.want)
		}
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(googlechat.New, notify.Config{}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, googlechat.New)
}
