package mastodon_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/mastodon"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const token = "mastodon-access-token"

// notifyOnce delivers ev to a sink at the address suffix, which is appended
// to the sink's URL.
func notifyOnce(t *testing.T, suffix string, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	n := notifytest.New(t, mastodon.New, notify.Config{Address: notify.Secret(sink.URL + suffix), Token: token})
	return notifytest.Deliver(t, sink, n, ev)
}

func TestGolden(t *testing.T) {
	notifytest.RunGolden(t, func(t *testing.T, ev event.Event) notifytest.Request {
		return notifyOnce(t, "", ev)
	})
	for name, suffix := range map[string]string{
		// The visibility moves into the body; the rest of the query is
		// re-encoded, sorted, after the appended statuses path.
		"visibility-and-base-path": "/social/?z=1&visibility=unlisted&a=b+c",
		// An address that already names the endpoint is kept as it is.
		"statuses-path-kept": "/api/v1/statuses/",
	} {
		t.Run(name, func(t *testing.T) {
			notifytest.AssertGolden(t, name, notifyOnce(t, suffix, notifytest.ReferenceEvent(event.SeverityInfo, true)))
		})
	}
}

// The §4.2 request for the reference event, independently of the golden
// files and of the package's own helpers.
func TestReferenceRequest(t *testing.T) {
	req := notifyOnce(t, "", notifytest.ReferenceEvent(event.SeverityInfo, true))
	const status = "💫 kustomization/podinfo.flux-system\nApplied revision: " + notifytest.Revision + "\n\nrevision: " + notifytest.Revision
	want, _ := json.Marshal(map[string]string{"status": status})
	if req.Method != "POST" || req.URI != "/api/v1/statuses" || string(req.Body) != string(want) {
		t.Errorf("%s %s %s\nwant POST /api/v1/statuses %s", req.Method, req.URI, req.Body, want)
	}
	sum := sha256.Sum256([]byte("7d0cdc51-ddcf-4743-b223-83ca5c699632/ReconciliationSucceeded/2024-05-06 07:08:09 +0000 UTC/" + status))
	for name, want := range map[string]string{
		"Authorization":   "Bearer " + token,
		"Content-Type":    "application/json",
		"Idempotency-Key": hex.EncodeToString(sum[:]),
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
}

func status(t *testing.T, req notifytest.Request) mastodon.Payload {
	t.Helper()
	var p mastodon.Payload
	if err := json.Unmarshal(req.Body, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// The cases of Flux's mastodon_test.go, on its testEvent().
func TestFluxCases(t *testing.T) {
	t.Run("post", func(t *testing.T) {
		req := notifyOnce(t, "", notifytest.FluxTestEvent())
		if got := status(t, req); got.Status != "💫 gitrepository/webapp.gitops-system\nmessage\n\ntest: metadata" || got.Visibility != "" {
			t.Errorf("payload %+v", got)
		}
	})
	t.Run("visibility and error severity", func(t *testing.T) {
		ev := notifytest.FluxTestEvent()
		ev.Severity = event.SeverityError
		req := notifyOnce(t, "?visibility=unlisted", ev)
		got := status(t, req)
		if got.Visibility != "unlisted" || !strings.HasPrefix(got.Status, "🚨 ") {
			t.Errorf("payload %+v", got)
		}
		if req.URI != "/api/v1/statuses" {
			t.Errorf("URI = %s: the visibility stays in the query", req.URI)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		ev := notifytest.FluxTestEvent()
		ev.Message = strings.Repeat("z", 2*mastodon.MaxChars)
		got := status(t, notifyOnce(t, "", ev)).Status
		if n := utf8.RuneCountInString(got); n != mastodon.MaxChars || !strings.HasSuffix(got, "zz…") {
			t.Errorf("%d characters, ending %q", n, got[len(got)-8:])
		}
	})
	t.Run("metadata sorted", func(t *testing.T) {
		ev := notifytest.FluxTestEvent()
		ev.Metadata = map[string]string{"revision": "main/1234", "cluster": "staging", "image-tag": "v1.2.3", "env": "staging"}
		got := status(t, notifyOnce(t, "", ev)).Status
		if want := "💫 gitrepository/webapp.gitops-system\nmessage\n\ncluster: staging\nenv: staging\nimage-tag: v1.2.3\nrevision: main/1234"; got != want {
			t.Errorf("status %q\nwant   %q", got, want)
		}
	})
}

// Cutting counts characters, not bytes: a multi-byte message is not split
// inside a character.
func TestStatusCutsCharacters(t *testing.T) {
	ev := notifytest.ReferenceEvent(event.SeverityError, false)
	ev.Message = strings.Repeat("é", 600)
	got := mastodon.Status(ev)
	if !utf8.ValidString(got) || utf8.RuneCountInString(got) != mastodon.MaxChars || !strings.HasSuffix(got, "é…") {
		t.Errorf("status of %d characters ending %q", utf8.RuneCountInString(got), got[len(got)-6:])
	}
	// Short enough: only the surrounding white space goes.
	ev.Message = "  done \n"
	if got, want := mastodon.Status(ev), "🚨 kustomization/podinfo.flux-system\n  done"; got != want {
		t.Errorf("status %q, want %q", got, want)
	}
}

func TestNewErrors(t *testing.T) {
	notifytest.NewError(t, mastodon.New, notify.Config{Address: "mastodon.social", Token: "t"},
		"invalid Mastodon server URL: invalid address: invalid URI for request")
	notifytest.NewError(t, mastodon.New, notify.Config{Address: "https://mastodon.social"}, "empty Mastodon access token")
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, notifytest.At(mastodon.New, notify.Config{Token: token}))
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, mastodon.New)
}
