package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/redirect"
)

const (
	redirectPathSecret   = "s3cr3t-path-redirect-0123456789"
	redirectHeaderSecret = "s3cr3t-header-redirect-9876543210"
)

// A redirect to another host (here another port of 127.0.0.1) is not
// followed, whatever the client: the pool's, the default one, or one a
// caller built without a policy. Nothing reaches the other host, and the
// failure is permanent and names the status and the target's origin only.
func TestRedirectToAnotherHostIsNotFollowed(t *testing.T) {
	for _, code := range []int{301, 302, 303, 307, 308} {
		for name, client := range map[string]*http.Client{
			"pool":      nil,
			"hand-made": {},
		} {
			t.Run(strconv.Itoa(code)+"/"+name, func(t *testing.T) {
				other := notifytest.NewSink(t, nil)
				first := notifytest.NewSink(t, notifytest.Redirect(code, other.URL))
				ep := notify.Endpoint{Address: first.URL + "/hook/" + redirectPathSecret + "?token=" + redirectPathSecret, Client: client}
				err := ep.PostJSON(context.Background(), map[string]string{"text": "hi"},
					notify.WithHeaders(map[string]notify.Secret{"X-Api-Key": redirectHeaderSecret}))
				if n := len(other.Requests()); n != 0 {
					t.Fatalf("the other host received %d requests: %+v", n, other.Requests())
				}
				if len(first.Requests()) != 1 {
					t.Fatalf("the configured host received %d requests, want 1", len(first.Requests()))
				}
				if err == nil || notify.IsRetryable(err) {
					t.Fatalf("err = %v, retryable %v; want a permanent failure", err, notify.IsRetryable(err))
				}
				want := "POST request failed: refusing to follow a redirect to another host: " +
					strconv.Itoa(code) + " " + http.StatusText(code) + " to " + other.URL
				if err.Error() != want {
					t.Errorf("err = %q, want %q", err, want)
				}
				if strings.Contains(err.Error(), redirectPathSecret) || strings.Contains(err.Error(), redirectHeaderSecret) {
					t.Errorf("the error leaks a secret: %v", err)
				}
			})
		}
	}
}

// A redirect on the configured host is followed with the request's headers,
// which stay on that host, and without a Referer, which would repeat the
// secret URL.
func TestRedirectOnTheSameHostIsFollowedWithoutReferer(t *testing.T) {
	srv := notifytest.NewSink(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/moved" {
			http.Redirect(w, r, "/moved", http.StatusTemporaryRedirect)
		}
	})
	err := notify.Endpoint{Address: srv.URL + "/hook/" + redirectPathSecret}.PostJSON(context.Background(), map[string]string{"a": "b"},
		notify.WithHeaders(map[string]notify.Secret{"X-Api-Key": redirectHeaderSecret}))
	if err != nil {
		t.Fatal(err)
	}
	final := srv.Last(t)
	if got := final.Header.Get("Referer"); got != "" {
		t.Errorf("Referer %q sent", got)
	}
	if got := final.Header.Get("X-Api-Key"); got != redirectHeaderSecret {
		t.Errorf("X-Api-Key %q, want the header kept on the same host", got)
	}
	if final.Method != http.MethodPost || string(final.Body) != `{"a":"b"}` {
		t.Errorf("307 became %s with body %q", final.Method, final.Body)
	}
}

// A redirect loop on the same host stops after MaxRedirects requests, as
// Go's default policy does, for good.
func TestRedirectLoopStops(t *testing.T) {
	var hops atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/hop/"+strconv.Itoa(int(hops.Add(1))), http.StatusFound)
	}))
	t.Cleanup(srv.Close)
	err := notify.Endpoint{Address: srv.URL}.PostJSON(context.Background(), nil)
	if err == nil || notify.IsRetryable(err) || err.Error() != "POST request failed: stopped after 10 redirects" {
		t.Fatalf("err = %v, retryable %v", err, notify.IsRetryable(err))
	}
	if got := hops.Load(); got != redirect.Max {
		t.Errorf("%d requests, want %d", got, redirect.Max)
	}
}

// Config.Client follows the policy whoever built the HTTPClient.
func TestConfigClientRedirectPolicy(t *testing.T) {
	for _, c := range []*http.Client{nil, {}, {CheckRedirect: func(*http.Request, []*http.Request) error { return nil }}} {
		got := notify.Config{HTTPClient: c}.Client()
		other := notifytest.NewSink(t, nil)
		first := notifytest.NewSink(t, notifytest.Redirect(http.StatusTemporaryRedirect, other.URL))
		resp, err := got.Get(first.URL)
		if err == nil {
			_ = resp.Body.Close()
		}
		if !errors.Is(err, redirect.ErrNotFollowed) || len(other.Requests()) != 0 {
			t.Errorf("client %+v: err %v, %d requests elsewhere", c, err, len(other.Requests()))
		}
	}
}
