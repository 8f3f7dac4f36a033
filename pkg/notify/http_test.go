package notify_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// poster adapts Post to a Notifier, so the shared retry table runs against
// the poster itself.
type poster struct {
	address string
	opts    []notify.PostOption
}

func (p poster) Notify(ctx context.Context, ev event.Event) (bool, error) {
	return notify.Outcome(notify.Endpoint{Address: p.address}.PostJSON(ctx, ev, p.opts...))
}

func TestPostRetryTable(t *testing.T) {
	notifytest.RunRetryTests(t, func(_ *testing.T, address string) notify.Notifier { return poster{address: address} })
}

func TestPostRequest(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	err := notify.Endpoint{Address: sink.URL + "/x?y=1"}.Send(context.Background(), http.MethodPut, []byte(`{"a":1}`),
		notify.WithContentType("application/x-www-form-urlencoded"),
		notify.WithHeader("X-One", "1"),
		notify.WithHeaders(map[string]notify.Secret{"x-one": "override", "X-Two": "2"}),
		notify.WithBasicAuth("user", "pass"),
	)
	if err != nil {
		t.Fatal(err)
	}
	notifytest.AssertGolden(t, "post-request", sink.Last(t))
}

func TestPostAuthOnlyWhenSet(t *testing.T) {
	sink := notifytest.NewSink(t, nil)
	if err := (notify.Endpoint{Address: sink.URL}).Send(context.Background(), http.MethodPost, nil,
		notify.WithBasicAuth("", ""), notify.WithBearer("")); err != nil {
		t.Fatal(err)
	}
	if h := sink.Last(t).Header.Get("Authorization"); h != "" {
		t.Errorf("Authorization = %q without credentials", h)
	}
	if err := (notify.Endpoint{Address: sink.URL}).Send(context.Background(), http.MethodPost, nil, notify.WithBearer("tok")); err != nil {
		t.Fatal(err)
	}
	if h := sink.Last(t).Header.Get("Authorization"); h != "Bearer tok" {
		t.Errorf("Authorization = %q", h)
	}
	// Basic auth with only a password is still sent, as in Flux.
	if err := (notify.Endpoint{Address: sink.URL}).Send(context.Background(), http.MethodPost, nil, notify.WithBasicAuth("", "p")); err != nil {
		t.Fatal(err)
	}
	if h := sink.Last(t).Header.Get("Authorization"); h != "Basic OnA=" {
		t.Errorf("Authorization = %q", h)
	}
}

func TestPostErrorTexts(t *testing.T) {
	redirect := httptest.NewServer(nil)
	redirect.Config.Handler = http.RedirectHandler(redirect.URL+"/again", http.StatusFound)
	t.Cleanup(redirect.Close)
	tlsSink := notifytest.NewTLSSink(t, nil)

	tests := []struct {
		name      string
		address   string
		opts      []notify.PostOption
		want      string // regular expression, anchored
		retryable bool
	}{
		{
			name: "connection refused", address: notifytest.ClosedAddress(t) + "/hook/token",
			want: `POST request failed: dial tcp 127\.0\.0\.1:\d+: connect: connection refused`, retryable: true,
		},
		{name: "unsupported scheme", address: "ftp://example.org/x", want: `POST request failed: unsupported protocol scheme "ftp"`},
		{name: "too many redirects", address: redirect.URL, want: `POST request failed: stopped after 10 redirects`},
		{
			name: "invalid header", address: tlsSink.URL, opts: []notify.PostOption{notify.WithHeader("X-Bad", "a\nb")},
			want: `POST request failed: net/http: invalid header field value for "X-Bad"`,
		},
		{name: "untrusted certificate", address: tlsSink.URL, want: `POST request failed: TLS handshake failed: certificate signed by unknown authority`},
		{name: "bad URL", address: "http://host/%zz", want: `invalid request: invalid URL escape <secret>`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := notify.Endpoint{Address: tc.address}.Send(context.Background(), http.MethodPost, []byte("{}"), tc.opts...)
			if err == nil || !regexp.MustCompile(`\A`+tc.want+`\z`).MatchString(err.Error()) {
				t.Fatalf("err = %v\nwant %s", err, tc.want)
			}
			if got := notify.IsRetryable(err); got != tc.retryable {
				t.Errorf("retryable = %v, want %v", got, tc.retryable)
			}
			if strings.Contains(err.Error(), tc.address) {
				t.Errorf("error carries the URL: %v", err)
			}
			var ue interface{ Timeout() bool }
			if errors.As(err, &ue) {
				t.Errorf("error still wraps %T, which holds the URL", ue)
			}
		})
	}
}

func TestPostDeadline(t *testing.T) {
	release := make(chan struct{})
	sink := notifytest.NewSink(t, func(http.ResponseWriter, *http.Request) { <-release })
	defer close(release)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := notify.Endpoint{Address: sink.URL}.Send(ctx, http.MethodPost, nil)
	if err == nil || err.Error() != "POST request failed: context deadline exceeded" ||
		!errors.Is(err, context.DeadlineExceeded) || !notify.IsRetryable(err) {
		t.Fatalf("err = %v", err)
	}
}

// The error carries at most 4 KiB of the body, and a body's secrets are
// masked: the URL's parts, credentials and WithMask values.
func TestPostErrorBody(t *testing.T) {
	big := strings.Repeat("x", 10<<10)
	sink := notifytest.NewSink(t, notifytest.Status(400, big))
	err := notify.Endpoint{Address: sink.URL}.Send(context.Background(), http.MethodPost, nil)
	want := "request failed with status code 400: " + big[:4<<10]
	if err == nil || err.Error() != want {
		t.Fatalf("error text has %d bytes, want %d", len(err.Error()), len(want))
	}

	const pathToken, extra = "0123456789abcdefghij", "extra-secret"
	echo := notifytest.NewSink(t, notifytest.Echo(400))
	err = notify.Endpoint{Address: echo.URL + "/hook/" + pathToken}.Send(context.Background(), http.MethodPost, []byte(extra),
		notify.WithBearer("bearer-token"), notify.WithHeaders(map[string]notify.Secret{"X-Key": "header-value"}),
		notify.WithMask(extra))
	for _, s := range []string{pathToken, extra, "bearer-token", "header-value"} {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error leaks %q: %v", s, err)
		}
	}
	var e *notify.Error
	if !errors.As(err, &e) || e.StatusCode != 400 || e.Retryable {
		t.Errorf("classification lost in masking: %#v", e)
	}
}

func TestPostRetryAfterClock(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sink := notifytest.NewSink(t, notifytest.Status(503, "", "Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)))
	err := notify.Endpoint{Address: sink.URL}.Send(context.Background(), http.MethodPost, nil, notify.WithClock(func() time.Time { return now }))
	if d, ok := notify.RetryAfter(err); !ok || d != 90*time.Second {
		t.Fatalf("RetryAfter = %v, %v (err %v)", d, ok, err)
	}
}

func TestPostResponseValidator(t *testing.T) {
	var seen []byte
	validator := func(status int, body []byte) error {
		seen = body
		switch string(body) {
		case "ok":
			return nil
		case "busy":
			return notify.Retryable(errors.New("busy"))
		}
		return fmt.Errorf("bad reply %d", status)
	}
	tests := []struct {
		status    int
		body      string
		wantErr   string
		retryable bool
	}{
		{200, "ok", "", false},
		{404, "ok", "", false}, // the validator, not the status, decides
		{200, "no", "bad reply 200", false},
		{200, "busy", "busy", true},
		{500, "ok", "request failed with status code 500: ok", true}, // retryable statuses come first
	}
	for _, tc := range tests {
		sink := notifytest.NewSink(t, notifytest.Status(tc.status, tc.body))
		err := notify.Endpoint{Address: sink.URL}.Send(context.Background(), http.MethodPost, nil, notify.WithResponseValidator(validator))
		if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || err.Error() != tc.wantErr) {
			t.Errorf("%d %s: err = %v, want %q", tc.status, tc.body, err, tc.wantErr)
		}
		if notify.IsRetryable(err) != tc.retryable {
			t.Errorf("%d %s: retryable = %v", tc.status, tc.body, notify.IsRetryable(err))
		}
	}
	big := strings.Repeat("y", 100<<10)
	sink := notifytest.NewSink(t, notifytest.Status(200, big))
	_ = notify.Endpoint{Address: sink.URL}.Send(context.Background(), http.MethodPost, nil, notify.WithResponseValidator(validator))
	if len(seen) != len(big) {
		t.Errorf("validator saw %d bytes, want the whole %d-byte reply", len(seen), len(big))
	}
}

// Responses are drained and closed, so one connection serves many posts,
// whatever their outcome.
func TestPostReusesConnections(t *testing.T) {
	var conns atomic.Int32
	var hit atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		// Alternate success and failure, each with a body larger than what
		// the error keeps.
		if hit.Add(1)%2 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte(strings.Repeat("z", 20<<10)))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := notify.NewTransportPool().Client(notify.TransportSettings{})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_ = notify.Endpoint{Address: srv.URL, Client: client}.Send(context.Background(), http.MethodPost, []byte("{}"))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("10 posts opened %d connections, want 1", n)
	}
}

func TestNewEndpointAddress(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.slack.com/services/T/B/X": "",
		"":                                       "invalid address: empty url",
		"hooks.slack.com/x":                      "invalid address: invalid URI for request",
		"http://h:s3cret/x":                      "invalid address: invalid port <secret> after host",
	} {
		ep, err := notify.NewEndpoint(notify.Config{Address: notify.Secret(in)})
		switch {
		case want == "" && (err != nil || ep.Address != in):
			t.Errorf("%q: %q, %v", in, ep.Address, err)
		case want != "" && (err == nil || err.Error() != want):
			t.Errorf("%q: err = %v, want %q", in, err, want)
		}
	}
}

func TestMaskConfigSecretValues(t *testing.T) {
	cfg := notify.Config{
		Address:    "https://user:pw@hooks.example/services/T0/B0/abcdefghijklmnopqrstuvwx?sig=0123456789abcdef0123",
		Token:      "tok",
		Password:   "pass",
		Username:   "flux",
		Headers:    map[string]notify.Secret{"Authorization": "Bearer 0123456789abcdefXYZ"},
		Proxy:      "http://pu:proxy-pw@proxy:3128",
		SecretData: map[string]notify.Secret{"username": "flux", "token": "tok", "apiKey": "k-0123456789abcdef"},
	}
	text := "services/T0/B0/abcdefghijklmnopqrstuvwx abcdefghijklmnopqrstuvwx sig=0123456789abcdef0123 " +
		"0123456789abcdef0123 tok pass 0123456789abcdefXYZ proxy-pw k-0123456789abcdef flux"
	got := notify.Mask(text, cfg.SecretValues()...)
	for _, s := range []string{"abcdefghijklmnopqrstuvwx", "0123456789abcdef0123", "tok", "pass", "0123456789abcdefXYZ", "proxy-pw", "k-0123456789abcdef"} {
		if strings.Contains(got, s) {
			t.Errorf("%q survives: %s", s, got)
		}
	}
	if !strings.Contains(got, "flux") {
		t.Errorf("the username was masked: %s", got)
	}
}
