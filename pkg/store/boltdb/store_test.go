package boltdb

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// openStore opens a store in a new directory of t, closed when t ends.
func openStore(t testing.TB, opts Options) *Store {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "state", "herald.db"), opts)
}

func openAt(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// count returns the number of keys in a top-level bucket.
func count(t testing.TB, s *Store, bucket []byte) int {
	t.Helper()
	// Claims are written behind, and the log is applied behind too.
	if err := s.log.flush(); err != nil {
		t.Fatal(err)
	}
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).ForEach(func(_, _ []byte) error { n++; return nil })
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "state")
	path := filepath.Join(dir, "herald.db")
	openAt(t, path, Options{})
	for p, want := range map[string]os.FileMode{dir: 0o700 | os.ModeDir, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode(), want)
		}
	}
}

func TestOpenLockedFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	first := openAt(t, path, Options{})
	const timeout = 200 * time.Millisecond
	began := time.Now()
	s, err := Open(path, Options{LockTimeout: timeout})
	took := time.Since(began)
	if err == nil {
		_ = s.Close()
		t.Fatal("a second Open of a file in use succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("error %v, want ErrLocked", err)
	}
	for _, want := range []string{path, "in use by another herald process"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	// Not timing luck: Open gives up after the timeout, and a busy machine
	// adds its scheduling delay.
	if took > timeout+5*time.Second {
		t.Errorf("Open gave up after %v, timeout %v", took, timeout)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	openAt(t, path, Options{LockTimeout: timeout})
}

func TestOpenRefusesOtherFiles(t *testing.T) {
	garbage := make([]byte, 64<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range garbage {
		garbage[i] = byte(r.Uint32())
	}
	cases := map[string]struct {
		write func(path string) error
		want  string
	}{
		"garbage": {
			write: func(path string) error { return os.WriteFile(path, garbage, 0o600) },
			want:  "not a herald state file, or a damaged one",
		},
		"short text": {
			write: func(path string) error { return os.WriteFile(path, []byte("state\n"), 0o600) },
			want:  "not a herald state file, or a damaged one",
		},
		"another program's bbolt file": {
			write: func(path string) error {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					return err
				}
				err = db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
				return errors.Join(err, db.Close())
			},
			want: "not a herald state file",
		},
		"a later format": {
			write: func(path string) error {
				db, err := bolt.Open(path, 0o600, nil)
				if err != nil {
					return err
				}
				err = db.Update(func(tx *bolt.Tx) error {
					b, err := tx.CreateBucket(bucketMeta)
					if err != nil {
						return err
					}
					return b.Put(keyFormat, []byte("5"))
				})
				return errors.Join(err, db.Close())
			},
			want: `state format "5", this herald reads "4"`,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "herald.db")
			if err := c.write(path); err != nil {
				t.Fatal(err)
			}
			s, err := Open(path, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one naming %s and saying %q", err, path, c.want)
			}
			if errors.Is(err, ErrLocked) {
				t.Errorf("error %q is ErrLocked", err)
			}
		})
	}
}

// An empty file, left by a crash before bbolt wrote its first page, is a
// new state file.
func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openAt(t, path, Options{})
	if ok, _, err := s.Deduper().Claim(context.Background(), "k", time.Now()); !ok || err != nil {
		t.Fatalf("Claim = %v, %v", ok, err)
	}
}
