package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/heraldhq/herald/pkg/metrics/prom"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/store"
	"github.com/heraldhq/herald/pkg/store/boltdb"
)

// openJournal opens a real state file, which reopen opens again as a
// restarted herald serve would.
func openJournal(t *testing.T) (st *boltdb.Store, reopen func() *boltdb.Store) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.db")
	open := func() *boltdb.Store {
		s, err := boltdb.Open(path, boltdb.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	st = open()
	t.Cleanup(func() { st.Close() })
	return st, func() *boltdb.Store {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
		st = open()
		return st
	}
}

func records(t *testing.T, j store.DeliveryJournal, dead bool) []store.DeliveryRecord {
	t.Helper()
	recs, err := j.ListDeliveries(context.Background(), dead)
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func ids(recs []store.DeliveryRecord) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return out
}

// A job is in the journal before Enqueue returns; a failed attempt
// rewrites it with the attempt, the error and the next attempt; a success
// deletes it; a permanent failure keeps it as a dead letter.
func TestJournalFollowsEachJob(t *testing.T) {
	st, _ := openJournal(t)
	n := newGate(errBusy) // holds the first attempt until released
	q, timers, _ := newTestQueue(t, n, 1, 4)
	q.Journal = st
	if err := q.Enqueue(context.Background(), job("a")); err != nil {
		t.Fatal(err)
	}
	<-n.started
	pending := records(t, st, false)
	if !slices.Equal(ids(pending), []string{"a"}) || !pending[0].NextAttempt.IsZero() || pending[0].LastError != "" {
		t.Fatalf("pending before the first attempt ended: %+v", pending)
	}
	close(n.release)
	timer := <-timers.added
	pending = records(t, st, false)
	if len(pending) != 1 || pending[0].LastError != "busy" || pending[0].NextAttempt.Sub(pending[0].Updated) != errBusy.RetryAfter ||
		!strings.Contains(string(pending[0].Job), `"attempt":1`) {
		t.Fatalf("pending after a failed attempt: %+v", pending)
	}
	n.err = nil // the provider is back
	timer.f()
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if recs := records(t, st, false); len(recs) != 0 {
		t.Fatalf("delivered job still pending: %+v", recs)
	}

	bad := &scripted{script: []error{notify.Permanent(errors.New("request failed with status code 400"))}}
	q2, _, _ := newTestQueue(t, bad, 1, 4)
	q2.Journal = st
	if err := q2.Enqueue(context.Background(), job("b")); err != nil {
		t.Fatal(err)
	}
	if err := q2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	dead := records(t, st, true)
	if len(dead) != 1 || dead[0].ID != "b" || dead[0].Reason != ReasonPermanent || dead[0].LastError != "request failed with status code 400" {
		t.Fatalf("dead letters %+v", dead)
	}
	if recs := records(t, st, false); len(recs) != 0 {
		t.Fatalf("dead letter still pending: %+v", recs)
	}
	if got := testutil.ToFloat64(q2.deliverer.Metrics.(*prom.Metrics).DeadLetters); got != 1 {
		t.Fatalf("herald_dead_letters_total = %v, want 1", got)
	}
}

// What Close leaves is kept, not given up, and the next start delivers it:
// a job waiting for its retry, at its time, and a malformed record is
// dead-lettered rather than lost or retried forever.
func TestJournalResumesAfterRestart(t *testing.T) {
	st, reopen := openJournal(t)
	q, timers, logs := newTestQueue(t, &scripted{script: []error{errBusy}}, 1, 4)
	q.Journal = st
	if err := q.Enqueue(context.Background(), job("a")); err != nil {
		t.Fatal(err)
	}
	<-timers.added
	if err := q.Close(cancelled()); err != nil {
		t.Fatalf("Close() = %v, want nil: the job is kept", err)
	}
	assertDrained(t, q, logs) // none abandoned
	if !strings.Contains(logs.String(), `"msg":"pending deliveries kept for the next start","deliveries":1`) {
		t.Fatalf("no line about the kept job:\n%s", logs)
	}

	st = reopen()
	if err := st.PutDeliveries(context.Background(), store.DeliveryRecord{ID: "junk", Job: []byte("{not json"), Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	n := &scripted{}
	q2, timers2, _ := newTestQueue(t, n, 1, 4)
	q2.Journal = st
	resumed, err := q2.Resume(context.Background())
	if err != nil || resumed != 1 {
		t.Fatalf("Resume() = %d, %v; want 1", resumed, err)
	}
	timer := <-timers2.added
	timer.f()
	if err := q2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.count() != 1 {
		t.Fatalf("%d attempts after the restart, want 1", n.count())
	}
	if recs := records(t, st, false); len(recs) != 0 {
		t.Fatalf("pending after the restart's delivery: %+v", recs)
	}
	if dead := records(t, st, true); len(dead) != 1 || dead[0].ID != "junk" || dead[0].Reason != ReasonMalformed {
		t.Fatalf("dead letters %+v, want the malformed record", dead)
	}
}

// Replay makes dead letters pending with a new horizon and delivers them;
// the listing shows each state with its error.
func TestJournalReplayAndList(t *testing.T) {
	st, _ := openJournal(t)
	down := &scripted{script: []error{notify.Permanent(errors.New("request failed with status code 404"))}}
	q, _, _ := newTestQueue(t, down, 1, 4)
	q.Journal = st
	old := job("a")
	old.Queued = time.Now().Add(-3 * time.Hour)
	if err := q.Enqueue(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	if err := q.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := ListJournal(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].State != StateDead || entries[0].Reason != ReasonPermanent ||
		entries[0].LastError != "request failed with status code 404" || entries[0].Attempts != 1 || entries[0].Provider != "ns/p" {
		t.Fatalf("entries %+v", entries)
	}

	n := &scripted{}
	q2, _, _ := newTestQueue(t, n, 1, 4)
	q2.Journal = st
	replayed, err := q2.Replay(context.Background(), 0)
	if err != nil || replayed != 1 {
		t.Fatalf("Replay() = %d, %v; want 1", replayed, err)
	}
	if err := q2.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n.count() != 1 {
		t.Fatalf("%d attempts after the replay, want 1", n.count())
	}
	if entries, _ := ListJournal(context.Background(), st); len(entries) != 0 {
		t.Fatalf("entries after the replayed delivery: %+v", entries)
	}
}

// A replayed dead letter starts its horizon again, so the first failure
// after a replay is retried, not given up at once.
func TestReplayJournalResetsHorizon(t *testing.T) {
	st, _ := openJournal(t)
	old := job("a")
	old.Attempt, old.Queued = 9, time.Now().Add(-48*time.Hour)
	q, _, _ := newTestQueue(t, &scripted{}, 1, 1)
	body := mustJSON(t, old)
	if err := st.PutDeliveries(context.Background(), store.DeliveryRecord{ID: "a", Job: body, Dead: true, Reason: ReasonExpired, Updated: time.Now()}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	jobs, err := ReplayJournal(context.Background(), st, 0, now)
	if err != nil || len(jobs) != 1 || jobs[0].Attempt != 0 || !jobs[0].Queued.Equal(now) {
		t.Fatalf("ReplayJournal() = %+v, %v", jobs, err)
	}
	if pending := records(t, st, false); len(pending) != 1 || !strings.Contains(string(pending[0].Job), `"queued":"2026-12-03T12:00:00Z"`) {
		t.Fatalf("pending %+v", pending)
	}
	q.Close(context.Background())
}

func mustJSON(t testing.TB, job Job) []byte {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
