package slack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/slack"
)

// roundTrip answers every request in process, with no network.
type roundTrip func(*http.Request) *http.Response

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r), nil }

const fuzzToken = "xoxb-Zx7Qv9Wk3Jp2-fuzz"

// FuzzChatReply answers chat.postMessage with arbitrary statuses and
// bodies, in which "$TOKEN" stands for the bearer token, so that a reply
// may echo it. Notify succeeds exactly when Slack says "ok": true (after a
// status that is not retried on its own), retries exactly the retryable
// statuses and Slack's transient errors, and its error never holds the
// token.
func FuzzChatReply(f *testing.F) {
	f.Add(200, `{"ok":true,"channel":"C1","ts":"1.2"}`)
	f.Add(200, `{"ok":false,"error":"channel_not_found"}`)
	f.Add(200, `{"ok":false,"error":"ratelimited"}`)
	f.Add(200, `{"ok":false,"error":"internal_error"}`)
	f.Add(200, `{"ok":false,"error":"invalid_auth","token":"$TOKEN"}`)
	f.Add(200, `{"ok":false,"error":"$TOKEN"}`)
	f.Add(200, `ok`)
	f.Add(200, ``)
	f.Add(200, `{"ok":"true"}`)
	f.Add(404, `{"ok":true}`)
	f.Add(429, `{"ok":false,"error":"ratelimited"}`)
	f.Add(503, `$TOKEN`)
	f.Add(400, `{"ok":false,"error":"\u00ff\xff"}`)
	f.Fuzz(func(t *testing.T, status int, reply string) {
		if status < 100 || status > 999 {
			return // net/http refuses such a status line
		}
		body := strings.ReplaceAll(reply, "$TOKEN", fuzzToken)
		if len(body) >= 1<<20 {
			return // past what the poster reads of a reply
		}
		client := &http.Client{Transport: roundTrip(func(r *http.Request) *http.Response {
			return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}
		})}
		n, err := slack.New(notify.Config{Address: slack.ChatPostMessageURL, Token: fuzzToken, Channel: "general", HTTPClient: client})
		if err != nil {
			t.Fatal(err)
		}
		retry, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true))

		var parsed struct {
			OK    bool   `json:"ok"`
			Error string `json:"error"`
		}
		decodes := json.Unmarshal([]byte(body), &parsed) == nil
		switch {
		case notify.RetryableStatus(status):
			if err == nil || !retry {
				t.Fatalf("status %d: retry %v, err %v", status, retry, err)
			}
		case decodes && parsed.OK:
			if err != nil {
				t.Fatalf("status %d, reply %q: %v", status, body, err)
			}
		default:
			transient := decodes && (parsed.Error == "ratelimited" || parsed.Error == "service_unavailable" || parsed.Error == "internal_error")
			if err == nil || retry != transient {
				t.Fatalf("status %d, reply %q: retry %v, err %v", status, body, retry, err)
			}
		}
		if err == nil {
			return
		}
		if msg := err.Error(); strings.Contains(msg, "Zx7Qv9Wk3Jp2") || !utf8.ValidString(msg) {
			t.Fatalf("error %q", msg)
		}
		if bytes.Contains([]byte(err.Error()), []byte(slack.ChatPostMessageURL)) {
			t.Fatalf("the error holds the address: %v", err)
		}
	})
}
