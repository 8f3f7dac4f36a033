// Package boltdb is local mode's durable state in one bbolt file: the
// de-duplication windows, the signatures of the replay guard, reconcile
// requests, Git status order and the
// delivery journal, so that a restart of herald serve neither loses a
// delivery it answered 202 for nor sends an event twice.
//
// Every write is synced before it returns: a crash after a call returns
// loses nothing, and a crash during one leaves the state as it was before.
// Reconcile requests and Git status order are bbolt transactions. The hot
// write paths (a de-duplication claim and a journal record per event, a
// journal delete per delivery) are appended to a write-ahead log beside
// the file (wal.go), one frame and one sync per group of concurrent
// callers, and applied to the file in the background.
//
// The file is locked while open: a second herald process on the same
// state directory fails to open it with ErrLocked.
package boltdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/heraldhq/herald/pkg/store/memory"
)

// Defaults of Options.
const (
	DefaultDedupInterval = 5 * time.Minute
	DefaultReconcileTTL  = time.Hour
	// DefaultOrderTTL is longer than any delivery is retried or a dead
	// letter kept, as in the DynamoDB store.
	DefaultOrderTTL    = 30 * 24 * time.Hour
	DefaultLockTimeout = time.Second
)

// Options tune a Store. Zero values take the defaults.
type Options struct {
	// DedupInterval is the de-duplication window. Default 5m.
	DedupInterval time.Duration
	// ReconcileTTL is how long a reconcile request waits for the
	// forwarder, counted from its RequestedAt. Default 1h.
	ReconcileTTL time.Duration
	// OrderTTL is how long the time of a Git status or comment is kept
	// after it was last written. Default 30 days.
	OrderTTL time.Duration
	// Now is the clock of reconcile requests and status order; a
	// de-duplication claim brings its own time. Default time.Now.
	Now func() time.Time
	// Logger reports sweeps of expired records. Default slog.Default().
	Logger *slog.Logger
	// LockTimeout bounds how long Open waits for another process to let
	// go of the file. Default 1s.
	LockTimeout time.Duration

	// segmentSize is where the log moves to a new segment: tests make it
	// small. Default walSegmentSize.
	segmentSize int64
}

// ErrLocked is returned by Open when another process holds the file.
var ErrLocked = errors.New("the state directory is in use by another herald process")

// formatVersion is the layout of the buckets below; Open refuses a file of
// another one rather than misread it. Format 4 is format 3 with the
// write-ahead log beside the file, so Open upgrades a file of format 3.
const formatVersion = "4"

const formatWithoutLog = "3"

// Top-level buckets.
var (
	bucketMeta      = []byte("meta")
	bucketDedup     = []byte("dedupWindows")
	bucketReconcile = []byte("reconcile")
	bucketOrder     = []byte("order")
	bucketPending   = []byte("journalPending")
	bucketDead      = []byte("journalDead")
	// bucketReplays came after format 3 was fixed; a file without it gets
	// it on open, and a herald that does not know it ignores it.
	bucketReplays = []byte("replays")

	keyFormat = []byte("format")
)

// Store is local mode's state in one bbolt file. It is safe for concurrent
// use; Close it to release the file's lock.
type Store struct {
	db   *bolt.DB
	path string
	opts Options
	log  *wal // the writes on the ingest path
	// windows decides de-duplication claims; the file keeps them.
	windows *memory.Deduper
	// replays decides whether a signed request is a replay; the file
	// keeps the signatures too.
	replays *memory.Replays

	// When expired records were last swept, in unix nanoseconds of the
	// clock that swept them: once per interval, by the caller that crosses
	// it.
	dedupSwept   atomic.Int64
	orderSwept   atomic.Int64
	replaysSwept atomic.Int64
}

// Open opens the state file at path, creating it (0600) and its directory
// (0700) if they are missing.
func Open(path string, opts Options) (*Store, error) {
	if opts.DedupInterval <= 0 {
		opts.DedupInterval = DefaultDedupInterval
	}
	if opts.ReconcileTTL <= 0 {
		opts.ReconcileTTL = DefaultReconcileTTL
	}
	if opts.OrderTTL <= 0 {
		opts.OrderTTL = DefaultOrderTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if opts.segmentSize <= 0 {
		opts.segmentSize = walSegmentSize
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("creating the state directory: %w", err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: opts.LockTimeout,
		// Expired keys free pages all the time; the hashmap freelist
		// finds free runs without scanning.
		FreelistType: bolt.FreelistMapType,
		// Each commit then writes only the pages it changed: the free
		// list is rebuilt from the file on open instead, which costs a
		// scan at start-up, not safety.
		NoFreelistSync: true,
	})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("opening %s: %w (waited %s for its lock)", path, ErrLocked, opts.LockTimeout)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrChecksum):
		return nil, fmt.Errorf("opening %s: not a herald state file, or a damaged one (%w); move it aside to start with empty state", path, err)
	case err != nil:
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	if err := db.Update(initBuckets); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	logDir := path + "-wal"
	last, err := recoverWAL(db, logDir)
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: applying the log in %s: %w", path, logDir, err)
	}
	s := &Store{db: db, path: path, opts: opts, windows: memory.NewDeduper(opts.DedupInterval), replays: memory.NewReplays()}
	if err := s.restoreWindows(opts.Now()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: reading de-duplication windows: %w", path, err)
	}
	if err := s.restoreReplays(opts.Now()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: reading request signatures: %w", path, err)
	}
	if s.log, err = openWAL(db, logDir, last, opts.segmentSize, opts.Logger); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	return s, nil
}

// initBuckets creates the buckets of a new file and checks the format of
// an existing one.
func initBuckets(tx *bolt.Tx) error {
	if meta := tx.Bucket(bucketMeta); meta != nil {
		switch v := meta.Get(keyFormat); string(v) {
		case formatVersion:
		case formatWithoutLog:
			if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("state format %q, this herald reads %q", v, formatVersion)
		}
	} else {
		empty := true
		_ = tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return nil })
		if !empty {
			return errors.New("a bbolt file, but not a herald state file")
		}
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyFormat, []byte(formatVersion)); err != nil {
			return err
		}
	}
	for _, name := range [][]byte{bucketDedup, bucketReconcile, bucketOrder, bucketPending, bucketDead, bucketReplays} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return err
		}
	}
	return nil
}

// Close waits for running transactions and releases the file.
func (s *Store) Close() error {
	s.log.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", s.path, err)
	}
	return nil
}

// dueSweep reports whether a sweep is due at now, a sweep having been last
// done at *last and being due every every. Of concurrent callers one wins.
func dueSweep(last *atomic.Int64, now time.Time, every time.Duration) bool {
	prev := last.Load()
	if now.UnixNano()-prev < int64(every) {
		return false
	}
	return last.CompareAndSwap(prev, now.UnixNano())
}

// putTime writes t to b[:8] so that keys sort like times, before 1970
// included.
func putTime(b []byte, t time.Time) {
	binary.BigEndian.PutUint64(b, uint64(t.UnixNano())^1<<63)
}

func getTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)^1<<63))
}
