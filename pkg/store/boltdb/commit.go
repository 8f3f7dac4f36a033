package boltdb

import (
	"errors"
	"log/slog"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// maxGroup bounds the calls one commit carries, so that a commit under
// heavy load still ends soon.
const maxGroup = 1024

// errClosed is returned by writes after Close.
var errClosed = errors.New("the state file is closed")

// committer is group commit over one bbolt file: a write waits only for the
// commit in progress, and the next commit carries every write that queued
// meanwhile. A lone write pays one fsync and no delay, and under load the
// fsyncs are shared. bbolt's DB.Batch shares fsyncs too, but makes every
// write wait for a timer first (10 ms by default): ingest, which writes a
// de-duplication claim and a journal entry per event, ran at about a tenth
// of its in-memory rate with it.
type committer struct {
	db     *bolt.DB
	logger *slog.Logger
	calls  chan *commitCall
	done   chan struct{}

	mu     sync.RWMutex // held to send on calls, taken by close
	closed bool
}

type commitCall struct {
	fn  func(*bolt.Tx) error
	err chan error // nil for a write-behind
}

func newCommitter(db *bolt.DB, logger *slog.Logger) *committer {
	c := &committer{db: db, logger: logger, calls: make(chan *commitCall, maxGroup), done: make(chan struct{})}
	go c.loop()
	return c
}

// write runs fn in a write transaction that it may share with other calls,
// and returns once that transaction is committed and synced. As with
// DB.Batch, fn may run twice: when a shared transaction fails, each of its
// calls runs again in a transaction of its own, so that one call's error
// is not another's. fn must therefore set its results anew on every run.
func (c *committer) write(fn func(*bolt.Tx) error) error {
	call := &commitCall{fn: fn, err: make(chan error, 1)}
	c.mu.RLock()
	if c.closed {
		c.mu.RUnlock()
		return errClosed
	}
	c.calls <- call
	c.mu.RUnlock()
	return <-call.err
}

// writeBehind queues fn like write, without waiting for its commit; a
// failure is logged. Writes commit in the order they were queued.
func (c *committer) writeBehind(fn func(*bolt.Tx) error) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if !c.closed {
		c.calls <- &commitCall{fn: fn}
	}
}

func (c *committer) loop() {
	defer close(c.done)
	group := make([]*commitCall, 0, maxGroup)
	for first := range c.calls {
		group = append(group[:0], first)
	gather:
		for len(group) < maxGroup {
			select {
			case call, ok := <-c.calls:
				if !ok {
					break gather
				}
				group = append(group, call)
			default:
				break gather
			}
		}
		err := c.db.Update(func(tx *bolt.Tx) error {
			for _, call := range group {
				if err := call.fn(tx); err != nil {
					return err
				}
			}
			return nil
		})
		for _, call := range group {
			callErr := err
			if err != nil && len(group) > 1 {
				callErr = c.db.Update(call.fn)
			}
			switch {
			case call.err != nil:
				call.err <- callErr
			case callErr != nil:
				c.logger.Error("a write-behind to the state file failed", "error", callErr.Error())
			}
		}
	}
}

// close refuses new writes, lets the queued ones commit, and waits for the
// loop to end.
func (c *committer) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.calls)
	}
	c.mu.Unlock()
	<-c.done
}
