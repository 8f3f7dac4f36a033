package telegram_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/telegram"
)

// token has the shape of a real bot token: bot ID, ":", 35 characters.
const token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

// referenceBody is the sendMessage body of the behaviour reference §4.2
// for the reference event: "-" escaped in the heading, ":" and "@" not.
const referenceBody = `{"chat_id":"-1001234567890","text":"*💫 kustomization/podinfo/flux\\-system*\nApplied revision: ` + notifytest.Revision + `\n\\- *revision*: ` + notifytest.Revision + `\n","parse_mode":"MarkdownV2"}`

func newNotifier(t *testing.T, api string, cfg notify.Config) *telegram.Notifier {
	t.Helper()
	n, err := telegram.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tn := n
	tn.APIURL = api
	return tn
}

func send(t *testing.T, channel string, ev event.Event) notifytest.Request {
	t.Helper()
	sink := notifytest.NewSink(t, nil)
	n := newNotifier(t, sink.URL, notify.Config{Channel: channel, Token: token})
	if retry, err := n.Notify(context.Background(), ev); err != nil {
		t.Fatalf("Notify: retry=%v err=%v", retry, err)
	}
	return sink.Last(t)
}

func TestGolden(t *testing.T) {
	tests := []struct {
		name, channel, severity string
		metadata                bool
	}{
		{"info", "-1001234567890", event.SeverityInfo, true},
		{"info-no-metadata", "-1001234567890", event.SeverityInfo, false},
		{"error", "-1001234567890", event.SeverityError, true},
		{"error-no-metadata", "-1001234567890", event.SeverityError, false},
		{"thread", "-1001234567890:42", event.SeverityInfo, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.AssertGolden(t, tc.name, send(t, tc.channel, notifytest.ReferenceEvent(tc.severity, tc.metadata)))
		})
	}
}

func TestReferenceBody(t *testing.T) {
	req := send(t, "-1001234567890", notifytest.ReferenceEvent(event.SeverityInfo, true))
	if got := string(req.Body); got != referenceBody {
		t.Errorf("body:\n got %s\nwant %s", got, referenceBody)
	}
}

// Flux's telegram_test.go: method, path, JSON content type, the exact
// escaped lines, and the thread ID split off the channel at its first ":".
func TestFluxVector(t *testing.T) {
	const text = "*💫 gitrepository/webapp/gitops\\-system*\nmessage\n" +
		"\\- *kubernetes\\.io/somekey*: some\\.value\n\\- *test*: metadata\n"
	tests := []struct{ channel, want string }{
		{"channel", `{"chat_id":"channel","text":` + quote(text) + `,"parse_mode":"MarkdownV2"}`},
		{"channel:thread", `{"chat_id":"channel","message_thread_id":"thread","text":` + quote(text) + `,"parse_mode":"MarkdownV2"}`},
		// Only the first ":" splits; an empty thread is omitted.
		{"channel:a:b", `{"chat_id":"channel","message_thread_id":"a:b","text":` + quote(text) + `,"parse_mode":"MarkdownV2"}`},
		{"channel:", `{"chat_id":"channel","text":` + quote(text) + `,"parse_mode":"MarkdownV2"}`},
	}
	for _, tc := range tests {
		t.Run(tc.channel, func(t *testing.T) {
			ev := notifytest.FluxTestEvent()
			ev.Metadata["kubernetes.io/somekey"] = "some.value"
			req := send(t, tc.channel, ev)
			if req.Method != "POST" || req.URI != "/bot"+token+"/sendMessage" || req.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s %s", req.Method, req.URI, req.Header.Get("Content-Type"))
			}
			if string(req.Body) != tc.want {
				t.Errorf("body:\n got %s\nwant %s", req.Body, tc.want)
			}
		})
	}
}

// quote is the JSON string of s; the texts here hold no HTML characters.
func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s) + `"`
}

func TestEscape(t *testing.T) {
	tests := map[string]string{
		"":                         "",
		"plain text: a@b, c/d ?":   "plain text: a@b, c/d ?",
		`\.-_[]()~>` + "`#+=|{}!*": `\\\.\-\_\[\]\(\)\~\>` + "\\`" + `\#\+\=\|\{\}\!\*`,
		`C:\path\to.x`:             `C:\\path\\to\.x`,
		"🚨 a-b":                    "🚨 a\\-b",
	}
	for in, want := range tests {
		if got := telegram.Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// fluxEscape is Flux's escapeString as a specification: for each character
// in its order, a backslash before every occurrence.
func fluxEscape(s string) string {
	for _, c := range "\\.-_[]()~>`#+=|{}!*" {
		s = strings.ReplaceAll(s, string(c), `\`+string(c))
	}
	return s
}

func FuzzEscape(f *testing.F) {
	for _, s := range []string{"", `a\b`, "x.y-z", "\\\\**", "\xff.\xfe-", "💫 a/b/c-d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := telegram.Escape(s), fluxEscape(s); got != want {
			t.Errorf("Escape(%q) = %q, Flux gives %q", s, got, want)
		}
	})
}

func TestNewErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  notify.Config
		want string
	}{
		{"empty channel", notify.Config{Token: token}, "empty Telegram channel"},
		{"empty token", notify.Config{Channel: "1"}, "empty Telegram token"},
		{"channel checked first", notify.Config{}, "empty Telegram channel"},
		{"token with a newline", notify.Config{Channel: "1", Token: token + "\n"}, "failed to construct API URL: the token does not form a valid URL"},
		{"token with a bad escape", notify.Config{Channel: "1", Token: token + "%zz"}, "failed to construct API URL: the token does not form a valid URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := telegram.New(tc.cfg)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// The address is ignored: requests go to APIURL, by default Telegram's.
func TestAddressIgnored(t *testing.T) {
	elsewhere := notifytest.NewSink(t, nil)
	api := notifytest.NewSink(t, nil)
	n := newNotifier(t, api.URL, notify.Config{Address: notify.Secret(elsewhere.URL), Channel: "1", Token: token})
	if _, err := n.Notify(context.Background(), notifytest.FluxTestEvent()); err != nil {
		t.Fatal(err)
	}
	if len(elsewhere.Requests()) != 0 || len(api.Requests()) != 1 {
		t.Errorf("address got %d requests, API %d", len(elsewhere.Requests()), len(api.Requests()))
	}
	d, err := telegram.New(notify.Config{Address: "https://example.org", Channel: "1", Token: token})
	if err != nil {
		t.Fatal(err)
	}
	if got := d.APIURL; got != "https://api.telegram.org" {
		t.Errorf("APIURL = %s", got)
	}
}

// The token is in the URL path, so every error path must mask it: replies
// echoing the request, a proxy echoing the absolute URL, a refused
// connection and a timeout.
func TestTokenNeverInErrors(t *testing.T) {
	check := func(t *testing.T, n *telegram.Notifier, reached *notifytest.Sink) {
		t.Helper()
		_, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityError, true))
		if err == nil {
			t.Fatal("Notify succeeded against a failing server")
		}
		if reached != nil && !strings.Contains(reached.Last(t).URI, token) {
			t.Fatalf("the request did not carry the token, so nothing was tested: %s", reached.Last(t).URI)
		}
		for _, text := range []string{err.Error(), strings.ReplaceAll(err.Error(), "%3A", ":")} {
			if strings.Contains(text, token) || strings.Contains(text, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw") {
				t.Errorf("error leaks the token: %s", text)
			}
		}
		t.Logf("error: %v", err)
	}
	for _, code := range []int{400, 401, 404, 429, 500} {
		sink := notifytest.NewSink(t, notifytest.Echo(code))
		check(t, newNotifier(t, sink.URL, notify.Config{Channel: "1", Token: token}), sink)
	}
	t.Run("proxy", func(t *testing.T) {
		proxy := notifytest.NewSink(t, notifytest.Echo(502))
		u, _ := url.Parse(proxy.URL)
		client, err := notify.NewTransportPool().Client(notify.TransportSettings{Proxy: u})
		if err != nil {
			t.Fatal(err)
		}
		check(t, newNotifier(t, "http://api.telegram.invalid", notify.Config{Channel: "1", Token: token, HTTPClient: client}), proxy)
	})
	t.Run("connection refused", func(t *testing.T) {
		check(t, newNotifier(t, notifytest.ClosedAddress(t), notify.Config{Channel: "1", Token: token}), nil)
	})
	t.Run("invalid API URL", func(t *testing.T) {
		check(t, newNotifier(t, "http://127.0.0.1:x", notify.Config{Channel: "1", Token: token}), nil)
	})
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		return newNotifier(t, address, notify.Config{Channel: "1", Token: token})
	})
}

func TestNoSecretLeak(t *testing.T) {
	closed := notifytest.ClosedAddress(t)
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
		n, err := telegram.New(cfg)
		if err != nil {
			return nil, err
		}
		// Send where the check's servers listen, never to Telegram.
		tn := n
		tn.APIURL = closed
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			tn.APIURL = u.Scheme + "://" + u.Host
		}
		return tn, nil
	}, func(cfg *notify.Config) { cfg.Channel = "-1001234567890:7" })
}
