package boltdb

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/heraldhq/herald/pkg/store"
)

// writeLog appends frames of ops to a log in dir as the log's loop does,
// with nothing applied, and returns the log: what a crash leaves when it
// comes before the applier.
func writeLog(t *testing.T, dir string, segmentSize int64, frames ...[]walOp) *wal {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w := &wal{dir: dir, segmentSize: segmentSize, logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := w.roll(); err != nil {
		t.Fatal(err)
	}
	for _, ops := range frames {
		var payload []byte
		for _, op := range ops {
			payload = appendOp(payload, op)
		}
		if err := w.append(payload, true); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = w.seg.Close() })
	return w
}

// emptyStateFile creates a state file of the current format with nothing
// applied from any log, and returns its bbolt handle.
func emptyStateFile(t *testing.T, path string) *bolt.DB {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Update(initBuckets); err != nil {
		t.Fatal(err)
	}
	return db
}

func keys(t *testing.T, db *bolt.DB, bucket []byte) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(k, v []byte) error { got[string(k)] = string(v); return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// The frames a crash left unapplied, over several segments, are applied
// in order: each key ends as its last operation says.
func TestRecoverAppliesTheLogInOrder(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "herald.db-wal")
	put := func(b byte, k, v string) walOp { return walOp{bucket: b, key: []byte(k), value: []byte(v)} }
	del := func(b byte, k string) walOp { return walOp{bucket: b, key: []byte(k)} }
	var frames [][]walOp
	for i := range 40 {
		frames = append(frames, []walOp{put(walPending, fmt.Sprintf("job-%02d", i), fmt.Sprintf("v%d-%s", i, bytes.Repeat([]byte("x"), 100)))})
	}
	frames = append(frames,
		[]walOp{del(walPending, "job-03"), put(walDead, "job-03", "dead")},
		[]walOp{del(walPending, "job-05"), del(walDead, "job-05")},
		[]walOp{put(walPending, "job-07", "rewritten")},
		[]walOp{put(walDedup, "window", "start")},
	)
	w := writeLog(t, logDir, 1024, frames...)
	if w.pos.seq < 4 {
		t.Fatalf("the log used %d segments; the test needs several", w.pos.seq)
	}

	db := emptyStateFile(t, filepath.Join(dir, "herald.db"))
	last, err := recoverWAL(db, logDir)
	if err != nil {
		t.Fatal(err)
	}
	if last != w.pos.seq {
		t.Errorf("recoverWAL returned segment %d, want the last, %d", last, w.pos.seq)
	}
	pending := keys(t, db, bucketPending)
	if len(pending) != 38 || pending["job-07"] != "rewritten" || pending["job-39"] == "" {
		t.Errorf("pending: %d keys, job-07 %q; want 38 keys, job-07 rewritten", len(pending), pending["job-07"])
	}
	if _, ok := pending["job-03"]; ok {
		t.Error("job-03 is still pending after it was dead-lettered")
	}
	if dead := keys(t, db, bucketDead); len(dead) != 1 || dead["job-03"] != "dead" {
		t.Errorf("dead letters %v, want job-03 only", dead)
	}
	if windows := keys(t, db, bucketDedup); windows["window"] != "start" {
		t.Errorf("windows %v, want the one written", windows)
	}

	// Applied once, the log is not applied again: a key changed since in
	// the file keeps its change.
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketPending).Put([]byte("job-07"), []byte("later")) }); err != nil {
		t.Fatal(err)
	}
	if _, err := recoverWAL(db, logDir); err != nil {
		t.Fatal(err)
	}
	if got := keys(t, db, bucketPending)["job-07"]; got != "later" {
		t.Errorf("job-07 = %q after a second recovery, want the file's later value", got)
	}
}

// The log of a segment ends at its first frame that does not check: one
// cut short by a crash, or one of the segment file's earlier life.
func TestRecoverStopsAtAFrameThatDoesNotCheck(t *testing.T) {
	op := func(k string) []walOp {
		return []walOp{{bucket: walPending, key: []byte(k), value: []byte("v")}}
	}
	cases := map[string]func(t *testing.T, path string, frameEnd int64){
		"cut short": func(t *testing.T, path string, frameEnd int64) {
			// The third frame's header made it, half its payload did not.
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(frameEnd - 3); err != nil {
				t.Fatal(err)
			}
		},
		"flipped bit": func(t *testing.T, path string, frameEnd int64) {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b := []byte{0}
			_, _ = f.ReadAt(b, frameEnd-1)
			b[0] ^= 1
			if _, err := f.WriteAt(b, frameEnd-1); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			logDir := filepath.Join(dir, "herald.db-wal")
			w := writeLog(t, logDir, 1<<20, op("a"), op("b"), op("c"))
			damage(t, filepath.Join(logDir, segmentName(w.pos.seq)), w.pos.off)
			db := emptyStateFile(t, filepath.Join(dir, "herald.db"))
			if _, err := recoverWAL(db, logDir); err != nil {
				t.Fatal(err)
			}
			got := slices.Sorted(func(yield func(string) bool) {
				for k := range keys(t, db, bucketPending) {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(got, []string{"a", "b"}) {
				t.Errorf("applied %v, want a and b", got)
			}
		})
	}
	t.Run("segment of another sequence number", func(t *testing.T) {
		dir := t.TempDir()
		logDir := filepath.Join(dir, "herald.db-wal")
		w := writeLog(t, logDir, 1<<20, op("a"))
		// A reused file: its frames were written as segment 1.
		if err := os.Rename(filepath.Join(logDir, segmentName(w.pos.seq)), filepath.Join(logDir, segmentName(w.pos.seq+1))); err != nil {
			t.Fatal(err)
		}
		db := emptyStateFile(t, filepath.Join(dir, "herald.db"))
		if _, err := recoverWAL(db, logDir); err != nil {
			t.Fatal(err)
		}
		if got := keys(t, db, bucketPending); len(got) != 0 {
			t.Errorf("applied %v from a frame of another segment", got)
		}
	})
}

// Through many segments, the log keeps at most its spares beside the
// segment being written, and reused files, whose old frames follow the
// new ones, read back as exactly what was written.
func TestLogReusesSegments(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	opts := Options{segmentSize: 8 << 10}
	s := openAt(t, path, opts)
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	job := bytes.Repeat([]byte("j"), 700)
	live := map[string]bool{}
	for i := range 400 {
		id := fmt.Sprintf("job-%03d", i)
		if err := s.PutDeliveries(ctx, store.DeliveryRecord{ID: id, Job: job, Updated: now}); err != nil {
			t.Fatal(err)
		}
		live[id] = true
		if i%3 != 0 {
			if err := s.DeleteDelivery(ctx, id); err != nil {
				t.Fatal(err)
			}
			delete(live, id)
		}
		if i%20 == 19 {
			if err := s.log.flush(); err != nil {
				t.Fatal(err)
			}
			seqs, err := segments(path + "-wal")
			if err != nil {
				t.Fatal(err)
			}
			// The segment written, the spares, and one that was
			// written to its end while the last frames were applied.
			if len(seqs) > walSpares+2 {
				t.Fatalf("after %d jobs the log holds %d segments: %v", i+1, len(seqs), seqs)
			}
		}
	}
	if s.log.pos.seq < 20 {
		t.Fatalf("the log used %d segments; the test needs many", s.log.pos.seq)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The segment written last is a reused file: recovery starts where
	// the file says the log was applied to, and must stop at the frames
	// of the file's earlier life that follow.
	s = openAt(t, path, opts)
	recs, err := s.ListDeliveries(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range recs {
		got[r.ID] = true
		if !bytes.Equal(r.Job, job) {
			t.Errorf("%s came back with a job of %d bytes", r.ID, len(r.Job))
		}
	}
	if len(got) != len(live) {
		t.Errorf("%d pending after reopening, want %d", len(got), len(live))
	}
	for id := range live {
		if !got[id] {
			t.Errorf("%s was lost", id)
		}
	}
}

// Open refuses a log whose frame checks but does not hold operations: that
// is a bug or a deliberate edit, never a crash, and guessing loses data.
func TestRecoverRefusesAFrameThatChecksButIsNotOperations(t *testing.T) {
	dir := t.TempDir()
	logDir := filepath.Join(dir, "herald.db-wal")
	w := writeLog(t, logDir, 1<<20)
	if err := w.append([]byte{9, 9, 9}, true); err != nil {
		t.Fatal(err)
	}
	db := emptyStateFile(t, filepath.Join(dir, "herald.db"))
	_, err := recoverWAL(db, logDir)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(segmentName(1))) {
		t.Fatalf("recoverWAL = %v, want an error naming the segment", err)
	}
}

func FuzzRecoverWAL(f *testing.F) {
	var payload []byte
	payload = appendOp(payload, walOp{bucket: walPending, key: []byte("a"), value: []byte("v")})
	payload = appendOp(payload, walOp{bucket: walDedup, key: []byte("b")})
	f.Add(payload)
	f.Add([]byte{1, 0, 200})
	f.Fuzz(func(t *testing.T, payload []byte) {
		dir := t.TempDir()
		logDir := filepath.Join(dir, "herald.db-wal")
		w := writeLog(t, logDir, 1<<20)
		if len(payload) > 0 {
			if err := w.append(payload, true); err != nil {
				t.Fatal(err)
			}
		}
		db := emptyStateFile(t, filepath.Join(dir, "herald.db"))
		ops, decodeErr := decodeOps(payload)
		_, err := recoverWAL(db, logDir)
		if decodeErr != nil && err == nil {
			t.Fatalf("recoverWAL applied a frame that decodeOps refuses: %v", decodeErr)
		}
		if err == nil && len(ops) > 0 {
			// What a frame holds is applied as it says: the last
			// operation on a key decides it.
			last := ops[len(ops)-1]
			got := db.View(func(tx *bolt.Tx) error {
				v := tx.Bucket(walBucket(last.bucket)).Get(last.key)
				if (last.value == nil) != (v == nil) || !bytes.Equal(v, last.value) {
					return fmt.Errorf("key %q of bucket %d is %q after a frame whose last operation on it is %q", last.key, last.bucket, v, last.value)
				}
				return nil
			})
			if got != nil {
				t.Fatal(got)
			}
		}
	})
}
