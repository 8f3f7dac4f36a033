package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/notify"
)

const maxRetryAfter = 12 * time.Hour

// FuzzParseRetryAfter reads Retry-After in both of its forms: the delay is
// never negative nor above 12 hours, delay-seconds give that many seconds,
// and an HTTP-date gives the time until then; the delay formatted either
// way reads back the same.
func FuzzParseRetryAfter(f *testing.F) {
	for _, v := range []string{"12", " 120 ", "0", "-1", "+5", "9223372036854775807", "99999999999999999999", "1.5",
		now.Add(time.Minute).Format(http.TimeFormat), "Wed, 04 Mar 2026 05:07:07 GMT", "Wednesday, 04-Mar-26 05:07:07 GMT",
		"Wed Mar  4 05:07:07 2026", now.Add(-time.Hour).Format(http.TimeFormat), ""} {
		f.Add(v, now.Unix())
	}
	f.Fuzz(func(t *testing.T, v string, nowUnix int64) {
		at := time.Unix(nowUnix, 0).UTC()
		d := notify.ParseRetryAfter(v, at)
		if d < 0 || d > maxRetryAfter {
			t.Fatalf("ParseRetryAfter(%q) = %v", v, d)
		}
		if secs, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
			want := time.Duration(0)
			if secs > 0 {
				want = time.Duration(min(secs, int64(maxRetryAfter/time.Second))) * time.Second
			}
			if d != want {
				t.Fatalf("ParseRetryAfter(%q) = %v, want %v", v, d, want)
			}
		} else if when, err := http.ParseTime(strings.TrimSpace(v)); err == nil {
			if want := min(max(when.Sub(at), 0), maxRetryAfter); d != want {
				t.Fatalf("ParseRetryAfter(%q) at %v = %v, want %v", v, at, d, want)
			}
		} else if d != 0 {
			t.Fatalf("ParseRetryAfter(%q) = %v for a value of neither form", v, d)
		}
		if d > 0 && at.Year() >= 1 && at.Add(d).Year() <= 9999 {
			secs := strconv.FormatInt(int64(d/time.Second), 10)
			if got := notify.ParseRetryAfter(secs, at); got != d {
				t.Fatalf("%v as %q reads back as %v", d, secs, got)
			}
			date := at.Add(d).Format(http.TimeFormat)
			if got := notify.ParseRetryAfter(date, at); got != d {
				t.Fatalf("%v as %q reads back as %v", d, date, got)
			}
		}
	})
}

var reasons = map[string]bool{
	notify.ReasonRateLimited: true, notify.ReasonClientError: true, notify.ReasonServerError: true,
	notify.ReasonTimeout: true, notify.ReasonConnection: true, notify.ReasonConfig: true,
}

// FuzzClassify classifies arbitrary answers: a 2xx is success; any other
// status is an error that carries it, is retried exactly when the shared
// table says so, with the Retry-After delay only then, and reads as valid
// UTF-8 whatever the body.
func FuzzClassify(f *testing.F) {
	f.Add(200, "", []byte("ok"))
	f.Add(204, "", []byte(nil))
	f.Add(429, "12", []byte(`{"error":"rate_limited"}`))
	f.Add(503, now.Add(time.Minute).Format(http.TimeFormat), []byte("busy"))
	f.Add(501, "5", []byte("not implemented"))
	f.Add(400, "12", []byte("bad \xff request"))
	f.Add(408, "", []byte(nil))
	f.Add(-1, "x", []byte(nil))
	f.Add(1000, "", []byte(nil))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		resp := &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}}}
		err := notify.Classify(http.MethodPost, resp, body, nil, now)
		if status >= 200 && status < 300 {
			if err != nil {
				t.Fatalf("%d: %v", status, err)
			}
			return
		}
		var e *notify.Error
		if !errors.As(err, &e) {
			t.Fatalf("%d: %T %v", status, err, err)
		}
		wantAfter := time.Duration(0)
		if notify.RetryableStatus(status) {
			wantAfter = notify.ParseRetryAfter(retryAfter, now)
		}
		if e.StatusCode != status || e.Retryable != notify.RetryableStatus(status) || e.RetryAfter != wantAfter {
			t.Fatalf("%d, Retry-After %q: %+v", status, retryAfter, e)
		}
		if retry, got := notify.Outcome(err); retry != e.Retryable || got != err {
			t.Fatalf("Outcome = %v, %v", retry, got)
		}
		if d, ok := notify.RetryAfter(err); ok != (wantAfter > 0) || d != wantAfter {
			t.Fatalf("RetryAfter = %v, %v; want %v", d, ok, wantAfter)
		}
		if !utf8.ValidString(err.Error()) || !strings.HasPrefix(err.Error(), "request failed with status code "+strconv.Itoa(status)+": ") {
			t.Fatalf("error text %q", err.Error())
		}
		if !reasons[notify.FailureReason(err)] {
			t.Fatalf("FailureReason = %q", notify.FailureReason(err))
		}
	})
}

// FuzzClassifyTransport classifies transport errors around a URL whose
// path is the webhook's secret: the error never holds the URL net/http
// wraps around the cause, only the cause, and a context error stays one.
func FuzzClassifyTransport(f *testing.F) {
	f.Add("dial tcp: lookup hooks.example: no such host", 0)
	f.Add("connection reset by peer", 0)
	f.Add("tls: failed to verify certificate: x509: certificate signed by unknown authority", 0)
	f.Add("unsupported protocol scheme \"ftp\"", 0)
	f.Add("stopped after 10 redirects", 0)
	f.Add("", 1)
	f.Add("", 2)
	f.Fuzz(func(t *testing.T, cause string, kind int) {
		inner := errors.New(cause)
		switch kind {
		case 1:
			inner = context.DeadlineExceeded
		case 2:
			inner = context.Canceled
		}
		const address = "https://hooks.example/services/" + fuzzSecret
		err := notify.Classify(http.MethodPost, nil, nil, &url.Error{Op: "Post", URL: address, Err: inner}, now)
		var e *notify.Error
		if !errors.As(err, &e) || e.StatusCode != 0 {
			t.Fatalf("%T %v", err, err)
		}
		if !strings.HasPrefix(err.Error(), "POST request failed: ") {
			t.Fatalf("error text %q", err.Error())
		}
		if _, ok := quoted(cause, fuzzSecret); !ok {
			if w, ok := quoted(err.Error(), fuzzSecret); ok {
				t.Fatalf("the error quotes %q of the URL: %v", w, err)
			}
		}
		if (kind == 1 || kind == 2) && (!errors.Is(err, inner) || !e.Retryable) {
			t.Fatalf("context error %v became %v (retry %v)", inner, err, e.Retryable)
		}
		if !reasons[notify.FailureReason(err)] {
			t.Fatalf("FailureReason = %q", notify.FailureReason(err))
		}
	})
}

// FuzzMask masks secrets out of a text that holds them: no secret survives
// Mask or MaskError, whatever else the text and the other secrets hold. A
// secret that contains the mask's '*' is left out of the check, as the
// mask itself could spell it.
func FuzzMask(f *testing.F) {
	f.Add("POST https://hooks.slack.com/services/", "T0/B0/XXX", " failed", "T0", "")
	f.Add("send Authorization: Bearer or GenieKey, not ", "sk-42", "", "Bearer ", "GenieKey ")
	f.Add("", "abc", "abcabc", "bca", "cab")
	f.Add("a", " \t", "b", "", "\n")
	f.Add("x", "aa", "a", "aaa", "a")
	f.Add("", "a*", "bc*", "*b", "c")
	f.Fuzz(func(t *testing.T, pre, secret, post, other1, other2 string) {
		text := pre + secret + post
		secrets := []notify.Secret{notify.Secret(secret), notify.Secret(other1), notify.Secret(other2)}
		for _, got := range []string{notify.Mask(text, secrets...), notify.MaskError(errors.New(text), false, secrets...).Error()} {
			for _, s := range secrets {
				v := strings.TrimSpace(s.Reveal())
				if v != "" && !strings.Contains(v, "*") && strings.Contains(got, v) {
					t.Fatalf("%q survives masking of %q: %q", v, text, got)
				}
			}
		}
		if err := notify.MaskError(errors.New(text), true, secrets...); errors.Unwrap(err) == nil || errors.Unwrap(errors.Unwrap(err)) != nil {
			t.Fatalf("MaskError unwraps to %v", errors.Unwrap(errors.Unwrap(err)))
		}
	})
}

// FuzzSecretValues masks an error that quotes an address, its parts and
// the other credentials of a config: SecretValues lists all that a server
// may echo, so none of them survives.
func FuzzSecretValues(f *testing.F) {
	f.Add("https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXXXXXXXXXXXXXX", "tok", "u", "p", "Bearer abc")
	f.Add("https://user:pa55@example.com/hook?token=0123456789abcdef0123&x=1#frag", "", "", "", "")
	f.Add("http://%zz", "", "bot", "s3cr3t", "Token ")
	f.Add("discord.com/api/webhooks/1/abc", " t ", "", "", "GenieKey key-0123456789abcdef")
	f.Fuzz(func(t *testing.T, address, token, username, password, header string) {
		cfg := notify.Config{
			Address: notify.Secret(address), Token: notify.Secret(token), Username: username, Password: notify.Secret(password),
			Headers: map[string]notify.Secret{"Authorization": notify.Secret(header)},
		}
		for what, v := range map[string]string{"address": address, "token": token, "password": password} {
			checkMasked(t, what, v, cfg)
		}
		// A scheme alone ("Bearer ", "GenieKey ") holds no secret and is not
		// masked; every scheme name is one word of letters, digits and '-'.
		if h := strings.TrimSpace(header); len(strings.Fields(h)) > 1 || strings.Trim(h, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-") != "" {
			checkMasked(t, "header", header, cfg)
		}
		u, err := url.Parse(strings.TrimSpace(address))
		if err != nil {
			return
		}
		if u.Path != "" && u.Path != "/" {
			checkMasked(t, "address path", u.EscapedPath(), cfg)
		}
		if u.RawQuery != "" {
			checkMasked(t, "address query", u.RawQuery, cfg)
		}
		if p, ok := u.User.Password(); ok {
			checkMasked(t, "address password", p, cfg)
		}
	})
}
