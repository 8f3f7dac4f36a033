package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/clusterauth"
)

// signedRequest is one signed request, sent as often as a test likes with
// the very same headers: what an attacker who captured it would send.
type signedRequest struct {
	method, url string
	body        []byte
	header      http.Header
}

func signed(t *testing.T, method, base, target string, body []byte) signedRequest {
	t.Helper()
	h := http.Header{}
	clusterauth.Sign(h, fwdCluster, []byte(fwdToken), method, target, body, time.Now())
	h.Set("Content-Type", "application/json")
	return signedRequest{method: method, url: base + target, body: body, header: h}
}

// send returns the status, the headers and the error text of the answer.
func (r signedRequest) send(t *testing.T) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(r.method, r.url, bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = r.header.Clone()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	var e struct{ Error string }
	_ = json.Unmarshal(reply, &e)
	return resp.StatusCode, resp.Header, e.Error
}

func expectReplayRefused(t *testing.T, what string, r signedRequest) {
	t.Helper()
	status, _, msg := r.send(t)
	if status != http.StatusUnauthorized || msg != "replayed request" {
		t.Fatalf("%s: %d %q, want 401 \"replayed request\"", what, status, msg)
	}
}

// TestReplayRefused: herald serve, with a rate-limit interval (1 s) shorter
// than the 5 minutes a signature's timestamp may be off, accepts a signed
// event once. Its exact replay is refused with 401 "replayed request":
// at once (not the duplicate's 429), after the de-duplication window has
// ended (when, before, it was accepted and delivered again), and after a
// restart on the same state directory; so is the replay of a request that
// was answered as a duplicate. The same holds for the forwarder's poll.
// The same event signed anew is an ordinary event.
func TestReplayRefused(t *testing.T) {
	t.Parallel()
	setup := newFwdSetup(t)
	s := sink(t, nil)
	stateDir := filepath.Join(t.TempDir(), "state")
	herald := startHerald(t, oneProvider(s.URL()+"/hook"), setup.ClusterTokens,
		"--rate-limit-interval", "1s", "--state-dir", stateDir)
	base := herald.URL()

	body := fluxEvent("podinfo", "replay me", 1)
	first := signed(t, http.MethodPost, base, "/", body)
	if status, _, msg := first.send(t); status != http.StatusAccepted {
		t.Fatalf("the signed event: %d %q, want 202", status, msg)
	}
	expectReplayRefused(t, "the replay at once", first)

	// The same event signed anew is a duplicate, whose answer says when
	// the window ends; past that time, the replay must still be refused,
	// and so must the duplicate's own replay.
	dup := signed(t, http.MethodPost, base, "/", body)
	status, h, msg := dup.send(t)
	if status != http.StatusTooManyRequests || h.Get(clusterauth.HeaderDuplicate) != "true" {
		t.Fatalf("the event signed anew: %d %q, want 429 as a duplicate", status, msg)
	}
	reset, err := http.ParseTime(h.Get("X-RateLimit-Reset"))
	if err != nil {
		t.Fatalf("X-RateLimit-Reset %q: %v", h.Get("X-RateLimit-Reset"), err)
	}
	// The header is in whole seconds, rounded down.
	time.Sleep(time.Until(reset.Add(time.Second)))
	expectReplayRefused(t, "the replay after the de-duplication window", first)
	expectReplayRefused(t, "the duplicate's replay after the window", dup)
	if status, _, msg := signed(t, http.MethodPost, base, "/", body).send(t); status != http.StatusAccepted {
		t.Fatalf("the event signed anew after the window: %d %q, want 202", status, msg)
	}

	poll := signed(t, http.MethodGet, base, "/reconcile-requests?after=", nil)
	if status, _, msg := poll.send(t); status != http.StatusOK {
		t.Fatalf("the signed poll: %d %q, want 200", status, msg)
	}
	expectReplayRefused(t, "the poll's replay", poll)

	herald.Down()
	herald.Up()
	expectReplayRefused(t, "the replay after a restart", first)
	expectReplayRefused(t, "the poll's replay after a restart", poll)

	// Everything accepted was queued before its 202, and nothing refused
	// was: after a last event, the sink holds exactly the three accepted.
	barrier := signed(t, http.MethodPost, base, "/", fluxEvent("barrier", "barrier", 2))
	if status, _, msg := barrier.send(t); status != http.StatusAccepted {
		t.Fatalf("the last event: %d %q, want 202", status, msg)
	}
	if _, err := s.WaitForBody(`"message":"barrier"`, deliveryMax); err != nil {
		t.Fatal(err)
	}
	reqs, err := s.WaitFor(3, deliveryMax)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 3 {
		t.Errorf("the sink received %d events, want 3 (the event, the event signed anew after its window, the last one)", len(reqs))
	}
	m, err := herald.Metrics()
	if err != nil {
		t.Fatal(err)
	}
	// Counted since the restart: the event's replay (polls have no metric).
	if got := m[`herald_events_rejected_total{reason="replayed"}`]; got != 1 {
		t.Errorf(`herald_events_rejected_total{reason="replayed"} = %g after the restart, want 1`, got)
	}
}
