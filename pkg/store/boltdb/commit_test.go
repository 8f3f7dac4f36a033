package boltdb

import (
	"errors"
	"path/filepath"
	"runtime"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Writes that queue while a commit runs share the next one; a write whose
// function fails gets its error, and the others of its group still commit.
func TestGroupCommitSharesAndIsolates(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "herald.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	put := func(key string) func(*bolt.Tx) error {
		return func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put([]byte(key), []byte("v")) }
	}
	errRefused := errors.New("refused")

	// Hold the loop in a first commit until the next writes have queued.
	release, holding := make(chan struct{}), make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- s.commits.write(func(tx *bolt.Tx) error {
			close(holding)
			<-release
			return put("first")(tx)
		})
	}()
	<-holding
	runs := map[string]int{}
	results := make(chan error, 3)
	// Queued one after the other, so the group's order is a, bad, b. The
	// loop is held, so each wait ends once the write has queued.
	queued := func(name string, fn func(*bolt.Tx) error) {
		n := len(s.commits.calls)
		go func() {
			results <- s.commits.write(func(tx *bolt.Tx) error { runs[name]++; return fn(tx) })
		}()
		for len(s.commits.calls) == n {
			runtime.Gosched()
		}
	}
	queued("a", put("a"))
	queued("bad", func(*bolt.Tx) error { return errRefused })
	queued("b", put("b"))
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	var refused, ok int
	for range 3 {
		switch err := <-results; {
		case errors.Is(err, errRefused):
			refused++
		case err == nil:
			ok++
		default:
			t.Fatal(err)
		}
	}
	if refused != 1 || ok != 2 {
		t.Fatalf("%d refused, %d committed; want 1 and 2", refused, ok)
	}
	// The group failed as one at "bad", then each ran alone: "a" and "bad"
	// twice, "b" once, and both good writes are in the file.
	if runs["a"] != 2 || runs["bad"] != 2 || runs["b"] != 1 {
		t.Fatalf("runs %v: want the group tried once together and then each alone", runs)
	}
	_ = s.db.View(func(tx *bolt.Tx) error {
		for _, k := range []string{"first", "a", "b"} {
			if tx.Bucket(bucketMeta).Get([]byte(k)) == nil {
				t.Errorf("%s was not committed", k)
			}
		}
		return nil
	})

	s.Close()
	if err := s.commits.write(put("late")); !errors.Is(err, errClosed) {
		t.Fatalf("write after Close = %v, want errClosed", err)
	}
}
