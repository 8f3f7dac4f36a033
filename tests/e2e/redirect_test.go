package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// TestRedirectToAnotherHost runs herald serve with a generic Provider whose
// secret address (a path token and a query token) and secret headers point
// at an endpoint that answers 307 to another local server, another port
// and so another host. Herald sends nothing there: no body, no X-Api-Key,
// no Referer with the webhook URL. The delivery is dead-lettered after one
// attempt as a permanent failure that names the redirect's status and the
// other host, and neither that error nor herald's log holds a secret.
func TestRedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	const (
		pathToken  = "s3cr3t-path-e2e-4f3e2d1c0b"
		queryToken = "s3cr3t-query-e2e-a9b8c7d6e5"
		apiKey     = "s3cr3t-apikey-e2e-0123456789"
		bearer     = "s3cr3t-bearer-e2e-9876543210"
	)
	secrets := []string{pathToken, queryToken, apiKey, bearer}
	other := sink(t, nil)
	moved := sink(t, func(_ int, r *http.Request) (int, http.Header) {
		return http.StatusTemporaryRedirect, http.Header{"Location": {other.URL() + r.URL.RequestURI()}}
	})
	cfg := harness.Config{
		Providers: []harness.Provider{{Name: "hook", Namespace: ns, Type: "generic", SecretRef: "hook"}},
		Alerts:    []harness.Alert{{Name: "all", Namespace: ns, ProviderRef: "hook", EventSources: allKustomizations}},
		Secrets: []harness.Secret{{Name: "hook", Namespace: ns, StringData: map[string]string{
			"address": moved.URL() + "/hook/" + pathToken + "?token=" + queryToken,
			"headers": "X-Api-Key: " + apiKey + "\nAuthorization: Bearer " + bearer + "\n",
		}}},
	}
	cfgDir, stateDir := t.TempDir(), t.TempDir()
	if err := cfg.Write(cfgDir); err != nil {
		t.Fatal(err)
	}
	herald := startDurable(t, cfgDir, stateDir)
	rec := newRecorder(t, herald.URL)
	if ex := rec.send(t, fluxObject(kustomizationGVK, ns, "moved", nil), nil, corev1.EventTypeNormal, "ReconciliationSucceeded", "redirected"); ex.Status != http.StatusAccepted {
		t.Fatalf("herald answered %d %q, want 202", ex.Status, ex.Reply)
	}

	// Until the delivery is dead, nothing may reach the other host.
	deadline := time.Now().Add(deliveryMax)
	var l listing
	for {
		for _, r := range other.Requests() {
			t.Fatalf("the other host received %s %s?%s with X-Api-Key %q, Referer %q", r.Method, r.Path, r.RawQuery, r.Header.Get("X-Api-Key"), r.Header.Get("Referer"))
		}
		l = deliveries(t, stateDir)
		if len(l.Deliveries) == 1 && l.Deliveries[0].State == "dead" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead letter: %+v; the redirecting endpoint received %d requests", l, len(moved.Requests()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	d := l.Deliveries[0]
	want := "refusing to follow a redirect to another host: 307 Temporary Redirect to " + other.URL()
	if d.Reason != "permanent failure" || d.Attempts != 1 || !strings.Contains(d.LastError, want) {
		t.Errorf("dead letter %+v, want a permanent failure after one attempt, with %q", d, want)
	}
	if n := len(moved.Requests()); n != 1 {
		t.Errorf("the redirecting endpoint received %d requests, want 1", n)
	}

	// The process has logged the failure; the next lines give it time to
	// write all of it before the log is read.
	table := cli(t, "deliveries", "--state-dir", stateDir)
	waitLog(t, herald, want)
	for _, s := range secrets {
		for what, text := range map[string]string{"the dead letter's error": d.LastError, "herald deliveries": table, "herald's log": herald.Stderr()} {
			if strings.Contains(text, s) {
				t.Errorf("%s holds the secret %q:\n%s", what, s, text)
			}
		}
	}
	if n := len(other.Requests()); n != 0 {
		t.Errorf("the other host received %d requests", n)
	}
}

// waitLog waits until herald's stderr holds text.
func waitLog(t *testing.T, p *harness.Process, text string) {
	t.Helper()
	deadline := time.Now().Add(deliveryMax)
	for !strings.Contains(p.Stderr(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("herald's log never says %q:\n%s", text, p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
