package notify_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify"
)

var now = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		wantNil    bool
		retry      bool
		after      time.Duration
	}{
		{status: 200, wantNil: true},
		{status: 204, wantNil: true},
		{status: 299, wantNil: true},
		{status: 304},
		{status: 400},
		{status: 404},
		{status: 408, retry: true},
		{status: 429, retry: true, retryAfter: "12", after: 12 * time.Second},
		{status: 429, retry: true, retryAfter: now.Add(time.Minute).Format(http.TimeFormat), after: time.Minute},
		{status: 500, retry: true},
		{status: 501},
		{status: 502, retry: true},
		{status: 503, retry: true, retryAfter: "120", after: 2 * time.Minute},
		{status: 599, retry: true},
		{status: 400, retryAfter: "12"}, // only retryable answers carry a delay
	}
	for _, tc := range tests {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.retryAfter != "" {
			resp.Header.Set("Retry-After", tc.retryAfter)
		}
		err := notify.Classify(http.MethodPost, resp, []byte("body"), nil, now)
		if tc.wantNil {
			if err != nil {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		var e *notify.Error
		if !errors.As(err, &e) {
			t.Fatalf("%d: %T", tc.status, err)
		}
		want := fmt.Sprintf("request failed with status code %d: body", tc.status)
		if e.Error() != want || e.Retryable != tc.retry || e.RetryAfter != tc.after || e.StatusCode != tc.status {
			t.Errorf("%d: %q retry=%v after=%v", tc.status, e.Error(), e.Retryable, e.RetryAfter)
		}
	}
}

func TestClassifyTransport(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Post", URL: "https://hooks.example/s3cret", Err: err} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "hooks.example", IsNotFound: true}}
	tests := []struct {
		name  string
		err   error
		want  string
		retry bool
	}{
		{"dial error", wrap(refused), "POST request failed: dial tcp: lookup hooks.example: no such host", true},
		{"reset", wrap(syscall.ECONNRESET), "POST request failed: connection reset by peer", true},
		{"deadline", wrap(context.DeadlineExceeded), "POST request failed: context deadline exceeded", true},
		{"canceled", wrap(context.Canceled), "POST request failed: context canceled", true},
		{"unknown authority", wrap(x509.UnknownAuthorityError{}), "POST request failed: TLS handshake failed: certificate signed by unknown authority", false},
		{"hostname", wrap(x509.HostnameError{Certificate: &x509.Certificate{}, Host: "h"}), "POST request failed: TLS handshake failed: certificate is not valid for any names, but wanted to match h", false},
		{"redirects", wrap(errors.New("stopped after 10 redirects")), "POST request failed: stopped after 10 redirects", false},
		{"scheme", wrap(errors.New(`unsupported protocol scheme "ftp"`)), `POST request failed: unsupported protocol scheme "ftp"`, false},
		{"mTLS refused", wrap(errors.New("remote error: tls: certificate required")), "POST request failed: TLS handshake failed: remote error: tls: certificate required", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Classify(http.MethodPost, nil, nil, tc.err, now)
			if err == nil || err.Error() != tc.want || notify.IsRetryable(err) != tc.retry {
				t.Fatalf("err = %v retry=%v; want %q retry=%v", err, notify.IsRetryable(err), tc.want, tc.retry)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Error("the URL survived")
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"":                                  0,
		"0":                                 0,
		"-5":                                0,
		"7":                                 7 * time.Second,
		" 7 ":                               7 * time.Second,
		"1.5":                               0,
		"soon":                              0,
		"99999999999999999999":              0, // does not parse as int64
		"9999999999999":                     12 * time.Hour,
		"Wed, 04 Mar 2026 05:07:07 GMT":     time.Minute,     // IMF-fixdate
		"Wednesday, 04-Mar-26 05:08:07 GMT": 2 * time.Minute, // RFC 850
		"Wed Mar  4 05:09:07 2026":          3 * time.Minute, // ANSI C asctime
		"Wed, 04 Mar 2026 05:00:00 GMT":     0,               // in the past
		"Wed, 11 Mar 2026 05:06:07 GMT":     12 * time.Hour,  // capped
	} {
		if got := notify.ParseRetryAfter(in, now); got != want {
			t.Errorf("ParseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestOutcome(t *testing.T) {
	if retry, err := notify.Outcome(nil); retry || err != nil {
		t.Error("nil outcome")
	}
	if retry, _ := notify.Outcome(notify.Permanent(errors.New("x"))); retry {
		t.Error("permanent retried")
	}
	if retry, _ := notify.Outcome(notify.Retryable(errors.New("x"))); !retry {
		t.Error("retryable not retried")
	}
}

func TestMaskErrorHidesSecretsAndKeepsOnlyContext(t *testing.T) {
	inner := fmt.Errorf("dial nats://user:hunter2-long-password@10.0.0.1:4222: %w", context.DeadlineExceeded)
	err := notify.MaskError(inner, true, "hunter2", "hunter2-long-password")
	if got := err.Error(); got != "dial nats://user:*****@10.0.0.1:4222: context deadline exceeded" {
		t.Fatalf("Error() = %q: the longer secret must be masked whole", got)
	}
	if !err.Retryable || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %#v: want retryable, unwrapping to the deadline", err)
	}
	if errors.Is(err, inner) {
		t.Fatal("the masked error unwraps to the original, which holds the secret")
	}
}

// FailureReason is computed from real outcomes: answers of a local server,
// and the errors a real client gets from a closed port, a server that does
// not answer in time and a certificate nobody trusts.
func TestFailureReason(t *testing.T) {
	status := func(code int) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
	}
	plain := httptest.NewServer(http.NewServeMux())
	mux := plain.Config.Handler.(*http.ServeMux)
	mux.Handle("/429", status(429))
	mux.Handle("/400", status(400))
	mux.Handle("/404", status(404))
	mux.Handle("/408", status(408))
	mux.Handle("/500", status(500))
	mux.Handle("/501", status(501))
	hang := make(chan struct{})
	mux.HandleFunc("/hang", func(http.ResponseWriter, *http.Request) { <-hang })
	t.Cleanup(plain.Close)
	// Cleanups run last first: the hanging handler returns before Close
	// waits for it.
	t.Cleanup(func() { close(hang) })
	untrusted := httptest.NewTLSServer(status(200))
	t.Cleanup(untrusted.Close)
	closed := httptest.NewServer(status(200))
	closedURL := closed.URL
	closed.Close()

	post := func(client *http.Client, ctx context.Context, url string) error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			defer resp.Body.Close()
		}
		return notify.Classify(http.MethodPost, resp, nil, err, now)
	}
	short := &http.Client{Timeout: 100 * time.Millisecond}
	expired, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"429", post(http.DefaultClient, context.Background(), plain.URL+"/429"), notify.ReasonRateLimited},
		{"GitHub's 403 rate limit", &notify.Error{StatusCode: 403, Retryable: true, Err: errors.New("rate limited")}, notify.ReasonRateLimited},
		{"400", post(http.DefaultClient, context.Background(), plain.URL+"/400"), notify.ReasonClientError},
		{"404", post(http.DefaultClient, context.Background(), plain.URL+"/404"), notify.ReasonClientError},
		{"408", post(http.DefaultClient, context.Background(), plain.URL+"/408"), notify.ReasonTimeout},
		{"500", post(http.DefaultClient, context.Background(), plain.URL+"/500"), notify.ReasonServerError},
		{"501", post(http.DefaultClient, context.Background(), plain.URL+"/501"), notify.ReasonServerError},
		{"client timeout", post(short, context.Background(), plain.URL+"/hang"), notify.ReasonTimeout},
		{"context deadline", post(http.DefaultClient, expired, plain.URL+"/hang"), notify.ReasonTimeout},
		{"connection refused", post(http.DefaultClient, context.Background(), closedURL), notify.ReasonConnection},
		{"untrusted certificate", post(http.DefaultClient, context.Background(), untrusted.URL), notify.ReasonConnection},
		{"unrenderable event", notify.Permanent(errors.New("cannot render the event")), notify.ReasonClientError},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.err == nil {
				t.Fatal("the attempt succeeded")
			}
			if got := notify.FailureReason(tc.err); got != tc.want {
				t.Errorf("FailureReason(%q) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
