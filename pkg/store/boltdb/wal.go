package boltdb

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The write-ahead log carries the writes of the ingest path: a
// de-duplication claim and a journal record per event, and a journal
// delete per delivery. A bbolt commit writes every page it changed and
// syncs the file twice, once for the pages and once for the meta page, so
// an event answered only after its commit waited for both, and ingest ran
// at less than half its in-memory rate. Here a group of writes is one
// frame appended to a segment file and synced once; the frames are then
// applied to the bbolt file in the background, many per transaction, and
// the transaction also records how far the log has been applied. Open
// applies what a crash left unapplied before anything reads the file.
//
// Applied in order, the operations of the log (put and delete of a key in
// one of three buckets) leave each key as its last operation says, so
// applying a frame twice, as a crash between a bbolt commit and the next
// may cause, changes nothing.
//
// A segment file is named by its sequence number and is walSegmentSize
// bytes long from its creation, so that a sync need not record a new file
// size. A frame is
//
//	length (uint32 LE) | CRC-32C (uint32 LE) | payload
//
// with the CRC over the segment's sequence number (uint64 LE) and the
// payload. The log of a segment ends at its first frame that does not
// check: a zero length where nothing was written yet, a frame cut short
// by a crash, or a frame left by the segment's earlier life, since an
// applied segment is renamed and reused rather than created anew.

// walSegmentSize is where the log moves to a new segment by default; a
// frame larger than a whole segment gets a segment of its own, longer.
const walSegmentSize = 8 << 20

// walSpares is how many applied segments are kept for reuse.
const walSpares = 2

// walFrameHeader is the length and CRC before a frame's payload.
const walFrameHeader = 8

// maxWALFrame bounds a frame's payload, so that a damaged length is not
// taken for a huge frame; it is far above any group of jobs.
const maxWALFrame = 1 << 30

// keyWALApplied is the meta key of the log's position applied to the
// file: a segment's sequence number and an offset in it (uint64 BE each).
var keyWALApplied = []byte("walApplied")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Buckets an operation of the log may change, by their byte in a frame.
const (
	walDedup byte = iota + 1
	walPending
	walDead
	walReplays
)

func walBucket(b byte) []byte {
	switch b {
	case walDedup:
		return bucketDedup
	case walPending:
		return bucketPending
	case walDead:
		return bucketDead
	case walReplays:
		return bucketReplays
	}
	return nil
}

// walOp puts value at key in bucket, or deletes key when value is nil
// (an empty value is not nil).
type walOp struct {
	bucket byte
	key    []byte
	value  []byte
}

func appendOp(b []byte, op walOp) []byte {
	kind := byte(0)
	if op.value == nil {
		kind = 1
	}
	b = append(b, op.bucket, kind)
	b = binary.AppendUvarint(b, uint64(len(op.key)))
	b = append(b, op.key...)
	if op.value != nil {
		b = binary.AppendUvarint(b, uint64(len(op.value)))
		b = append(b, op.value...)
	}
	return b
}

// decodeOps reads the operations of a frame's payload; the slices they
// hold point into payload.
func decodeOps(payload []byte) ([]walOp, error) {
	var ops []walOp
	for len(payload) > 0 {
		if len(payload) < 2 || walBucket(payload[0]) == nil || payload[1] > 1 {
			return nil, errors.New("not an operation")
		}
		op := walOp{bucket: payload[0]}
		del := payload[1] == 1
		payload = payload[2:]
		var ok bool
		if op.key, payload, ok = cutBytes(payload); !ok {
			return nil, errors.New("an operation cut short")
		}
		if !del {
			if op.value, payload, ok = cutBytes(payload); !ok {
				return nil, errors.New("an operation cut short")
			}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// cutBytes reads a uvarint length and that many bytes. A put's value is
// never nil, so that it does not read as a delete.
func cutBytes(b []byte) (v, rest []byte, ok bool) {
	n, size := binary.Uvarint(b)
	if size <= 0 || n > uint64(len(b)-size) {
		return nil, nil, false
	}
	end := size + int(n)
	return b[size:end:end], b[end:], true
}

func frameCRC(seq uint64, payload []byte) uint32 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seq)
	return crc32.Update(crc32.Update(0, castagnoli, s[:]), castagnoli, payload)
}

// readFrame returns the payload of the frame at b's start and the frame's
// length, or ok false where segment seq's log ends.
func readFrame(seq uint64, b []byte) (payload []byte, size int, ok bool) {
	if len(b) < walFrameHeader {
		return nil, 0, false
	}
	n := binary.LittleEndian.Uint32(b)
	if n == 0 || n > maxWALFrame || int64(n) > int64(len(b)-walFrameHeader) {
		return nil, 0, false
	}
	payload = b[walFrameHeader : walFrameHeader+int(n)]
	if binary.LittleEndian.Uint32(b[4:]) != frameCRC(seq, payload) {
		return nil, 0, false
	}
	return payload, walFrameHeader + int(n), true
}

// walPos is a place in the log: a segment and an offset in it.
type walPos struct {
	seq uint64
	off int64
}

func (p walPos) bytes() []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, p.seq)
	binary.BigEndian.PutUint64(b[8:], uint64(p.off))
	return b
}

func segmentName(seq uint64) string { return fmt.Sprintf("%016x.wal", seq) }

// segments lists the segment files of dir by sequence number.
func segments(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var seqs []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wal")
		if !ok || len(name) != 16 {
			continue
		}
		if seq, err := strconv.ParseUint(name, 16, 64); err == nil {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}

// recoverWAL applies to db the frames of dir from where the file says it
// was applied to, and returns the sequence number the next segment must
// come after. Segments applied before are left for reuse.
func recoverWAL(db *bolt.DB, dir string) (last uint64, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("creating the log directory: %w", err)
	}
	seqs, err := segments(dir)
	if err != nil {
		return 0, fmt.Errorf("reading the log directory: %w", err)
	}
	var from walPos
	err = db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get(keyWALApplied); len(v) == 16 {
			from = walPos{seq: binary.BigEndian.Uint64(v), off: int64(binary.BigEndian.Uint64(v[8:]))}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	// The next segment must come after the one the file names, even
	// when the log's files are gone, or the next Open would skip it.
	last = from.seq
	for _, seq := range seqs {
		if seq < from.seq {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, segmentName(seq)))
		if err != nil {
			return 0, fmt.Errorf("reading the log: %w", err)
		}
		off := int64(0)
		if seq == from.seq {
			off = min(from.off, int64(len(b)))
		}
		var ops []walOp
		for {
			payload, size, ok := readFrame(seq, b[off:])
			if !ok {
				break
			}
			frame, err := decodeOps(payload)
			if err != nil {
				return 0, fmt.Errorf("segment %s, offset %d: %w", segmentName(seq), off, err)
			}
			ops = append(ops, frame...)
			off += int64(size)
		}
		end := walPos{seq: seq, off: off}
		if err := db.Update(func(tx *bolt.Tx) error { return applyOps(tx, ops, end) }); err != nil {
			return 0, fmt.Errorf("applying the log: %w", err)
		}
		last = max(last, seq)
	}
	return last, nil
}

// applyOps applies ops in their order, as the last operation on each key,
// in key order (bbolt writes fewer pages for sorted keys), and records end
// as applied. A job delivered within the batch is put and deleted: only
// the delete reaches the tree, and it finds nothing to delete.
func applyOps(tx *bolt.Tx, ops []walOp, end walPos) error {
	last := make(map[string]int, len(ops))
	final := make([]walOp, 0, len(ops))
	for _, op := range ops {
		k := string(op.bucket) + string(op.key)
		if i, ok := last[k]; ok {
			final[i] = op
			continue
		}
		last[k] = len(final)
		final = append(final, op)
	}
	sort.Slice(final, func(i, j int) bool {
		if c := cmp.Compare(final[i].bucket, final[j].bucket); c != 0 {
			return c < 0
		}
		return bytes.Compare(final[i].key, final[j].key) < 0
	})
	for _, op := range final {
		b := tx.Bucket(walBucket(op.bucket))
		var err error
		if op.value == nil {
			err = b.Delete(op.key)
		} else {
			err = b.Put(op.key, op.value)
		}
		if err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(keyWALApplied, end.bytes())
}

// wal appends groups of operations to the log and applies them to the
// file behind it. Its loop owns the segment being written; its applier
// owns the bbolt writes of the log.
type wal struct {
	syncs       atomic.Uint64 // for the benchmarks' syncs/op
	frame       []byte        // the loop's buffer for the frame it writes
	dir         string
	db          *bolt.DB
	logger      *slog.Logger
	segmentSize int64
	calls       chan *walCall
	done        chan struct{}

	mu     sync.RWMutex // held to send on calls, taken by close
	closed bool

	// The loop's state.
	seg       *os.File
	pos       walPos
	broken    bool     // the segment's last write failed: the next frame starts a new one
	unsynced  bool     // frames were written to the segment since its last sync
	reusable  []uint64 // applied segments, oldest first
	appliedMu sync.Mutex
	applied   walPos // how far the file has the log, set by the applier

	toApply      chan walApply
	applierEnded chan struct{}
}

// walCall is one caller's operations, or a flush when ops is nil.
type walCall struct {
	ops []walOp
	err chan error // nil for a write-behind
}

// walApply is a frame written, to apply; or a flush to answer, once
// everything before it is applied.
type walApply struct {
	ops   []walOp
	end   walPos
	flush chan error
}

func openWAL(db *bolt.DB, dir string, last uint64, segmentSize int64, logger *slog.Logger) (*wal, error) {
	w := &wal{
		dir: dir, db: db, logger: logger, segmentSize: segmentSize,
		calls:        make(chan *walCall, maxGroup),
		done:         make(chan struct{}),
		toApply:      make(chan walApply, maxGroup),
		applierEnded: make(chan struct{}),
	}
	seqs, err := segments(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the log directory: %w", err)
	}
	// recoverWAL applied every segment there is.
	w.reusable = seqs
	w.pos = walPos{seq: last}
	w.applied = walPos{seq: last + 1}
	if err := w.roll(); err != nil {
		return nil, err
	}
	go w.loop()
	go w.apply()
	return w, nil
}

// maxKeptFrame bounds the frame buffer the log keeps between writes.
const maxKeptFrame = 1 << 20

// maxGroup bounds the calls one frame carries, so that a sync under heavy
// load still ends soon.
const maxGroup = 1024

// errClosed is returned by writes after Close.
var errClosed = errors.New("the state file is closed")

// write appends ops to the log, sharing a frame and its sync with the
// calls queued meanwhile, and returns once they are synced.
func (w *wal) write(ops ...walOp) error {
	call := &walCall{ops: ops, err: make(chan error, 1)}
	if !w.send(call) {
		return errClosed
	}
	return <-call.err
}

// writeBehind appends ops like write, without waiting for them to be
// written or synced; a failure is logged. Calls are written in the order
// they were made, and a sync covers every frame before it, so a write
// that waits has every write-behind made before it synced too.
func (w *wal) writeBehind(ops ...walOp) {
	w.send(&walCall{ops: ops})
}

// flush returns once everything written before it is in the bbolt file,
// for the reads of the buckets the log writes.
func (w *wal) flush() error {
	call := &walCall{err: make(chan error, 1)}
	if !w.send(call) {
		return errClosed
	}
	return <-call.err
}

func (w *wal) send(call *walCall) bool {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return false
	}
	w.calls <- call
	return true
}

func (w *wal) loop() {
	defer close(w.done)
	defer close(w.toApply)
	defer func() {
		if w.seg != nil {
			if err := w.sync(); err != nil {
				w.logger.Error("syncing the state log at close failed", "error", err.Error())
			}
			_ = w.seg.Close()
		}
	}()
	group := make([]*walCall, 0, maxGroup)
	var payload []byte
	for first := range w.calls {
		group = w.gather(append(group[:0], first))
		// An fdatasync costs more CPU than the rest of an event's ingest
		// (about 60 µs on a virtual disk), whatever the frame holds, so a
		// frame should carry as many waiting writes as it can without
		// making them wait for a timer. Before writing it, let the
		// goroutines that are ready to run go first, for as long as they
		// add writes: those in the middle of an ingest then join this
		// frame instead of paying a sync of their own. A yield with
		// nothing else ready returns at once, so a quiet server waits for
		// nothing.
		for round := 0; round < syncYields && len(group) < maxGroup && waits(group) < syncGroupEnough; round++ {
			runtime.Gosched()
			n := len(group)
			if group = w.gather(group); len(group) == n {
				break // nothing else was about to write
			}
		}
		// Flushes split the group: the writes before one are applied
		// before it is answered.
		for len(group) > 0 {
			i := slices.IndexFunc(group, func(c *walCall) bool { return c.ops == nil })
			writes := group
			if i >= 0 {
				writes = group[:i]
			}
			if len(writes) > 0 {
				payload = payload[:0]
				var ops []walOp
				for _, c := range writes {
					for _, op := range c.ops {
						payload = appendOp(payload, op)
					}
					ops = append(ops, c.ops...)
				}
				// A group of write-behinds alone is not synced: the next
				// write that waits syncs it along, or close does.
				sync := slices.ContainsFunc(writes, func(c *walCall) bool { return c.err != nil })
				err := w.append(payload, sync)
				if err == nil {
					w.toApply <- walApply{ops: ops, end: w.pos}
				} else {
					err = fmt.Errorf("writing the state log: %w", err)
				}
				for _, c := range writes {
					switch {
					case c.err != nil:
						c.err <- err
					case err != nil:
						w.logger.Error("a write-behind to the state log failed", "error", err.Error())
					}
				}
			}
			if i < 0 {
				break
			}
			w.toApply <- walApply{flush: group[i].err}
			group = group[i+1:]
		}
	}
}

// gather appends to group the calls already queued, up to maxGroup.
func (w *wal) gather(group []*walCall) []*walCall {
	for len(group) < maxGroup {
		select {
		case call, ok := <-w.calls:
			if !ok {
				return group
			}
			group = append(group, call)
		default:
			return group
		}
	}
	return group
}

// waits counts the calls in group that wait for a sync.
func waits(group []*walCall) int {
	n := 0
	for _, c := range group {
		if c.err != nil && c.ops != nil {
			n++
		}
	}
	return n
}

// Group commit: how often the log yields before a sync (see loop), and how
// many waiting writes are enough to sync at once.
const (
	syncYields      = 6
	syncGroupEnough = 32
)

// append writes one frame of payload, and syncs the segment when sync is
// set, moving to a new segment first when the frame does not fit in this
// one.
func (w *wal) append(payload []byte, sync bool) error {
	size := int64(walFrameHeader + len(payload))
	if w.broken || w.pos.off > 0 && w.pos.off+size > w.segmentSize {
		if err := w.roll(); err != nil {
			w.broken = true
			return err
		}
	}
	// The loop owns the frame buffer; nothing keeps a frame once written.
	frame := slices.Grow(w.frame[:0], int(size))[:walFrameHeader]
	binary.LittleEndian.PutUint32(frame, uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:], frameCRC(w.pos.seq, payload))
	frame = append(frame, payload...)
	w.frame = frame
	if cap(frame) > maxKeptFrame {
		w.frame = nil // a rare large event's frame is not kept
	}
	if _, err := w.seg.WriteAt(frame, w.pos.off); err != nil {
		w.broken = true
		return err
	}
	w.pos.off += size
	w.unsynced = true
	if sync {
		return w.sync()
	}
	return nil
}

// sync syncs the segment's frames written since the last sync.
func (w *wal) sync() error {
	if !w.unsynced {
		return nil
	}
	if err := syncData(w.seg); err != nil {
		w.broken = true
		return err
	}
	w.unsynced = false
	w.syncs.Add(1)
	return nil
}

// roll starts the next segment: in an applied segment's file when there
// is one, else in a new one. A sync after writes over blocks written
// before is the cheapest, so once the log has gone through a few
// segments it reuses them.
func (w *wal) roll() error {
	next := w.pos.seq + 1
	path := filepath.Join(w.dir, segmentName(next))
	w.appliedMu.Lock()
	applied := w.applied
	w.appliedMu.Unlock()
	var from string
	if len(w.reusable) > 0 && w.reusable[0] < applied.seq {
		from = filepath.Join(w.dir, segmentName(w.reusable[0]))
		w.reusable = w.reusable[1:]
	}
	var f *os.File
	var err error
	if from != "" {
		if err = os.Rename(from, path); err == nil {
			f, err = os.OpenFile(path, os.O_RDWR, 0o600)
		}
	} else {
		// Of its full size from the start, so that a sync need not
		// record a new file size.
		f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
		if err == nil {
			err = f.Truncate(w.segmentSize)
		}
	}
	if err == nil {
		err = syncDir(w.dir)
	}
	if err != nil {
		if f != nil {
			_ = f.Close()
		}
		return fmt.Errorf("starting log segment %s: %w", segmentName(next), err)
	}
	if w.seg != nil {
		// Its write-behinds must not be lost while later frames are not.
		if err := w.sync(); err != nil {
			w.logger.Error("syncing a log segment failed", "segment", segmentName(w.pos.seq), "error", err.Error())
		}
		w.reusable = append(w.reusable, w.pos.seq)
		_ = w.seg.Close()
	}
	w.seg, w.pos, w.broken = f, walPos{seq: next}, false
	// Applied segments beyond the spares are deleted.
	for len(w.reusable) > walSpares && w.reusable[0] < applied.seq {
		_ = os.Remove(filepath.Join(w.dir, segmentName(w.reusable[0])))
		w.reusable = w.reusable[1:]
	}
	return nil
}

// applyDelay is how long frames wait to be applied, so that a bbolt
// transaction, which writes every page it changed and the meta page and
// syncs twice, carries many of them; maxApplyOps ends the wait early.
const (
	applyDelay  = 100 * time.Millisecond
	maxApplyOps = 16384
)

// apply writes the frames to the bbolt file, a transaction for those
// written within applyDelay of the first, or at once for a flush.
func (w *wal) apply() {
	defer close(w.applierEnded)
	// ops are the frames not yet in the file: after a failed
	// transaction they go again with the next one, so that the position
	// recorded never passes a frame that is not applied.
	var ops []walOp
	var end walPos
	var flushes []chan error
	var due <-chan time.Time
	in := w.toApply
	for in != nil {
		commit := false
		select {
		case a, ok := <-in:
			switch {
			case !ok:
				in, commit = nil, true
			case a.flush != nil:
				flushes, commit = append(flushes, a.flush), true
			default:
				ops, end = append(ops, a.ops...), a.end
				commit = len(ops) >= maxApplyOps
				if due == nil {
					due = time.After(applyDelay)
				}
			}
		case <-due:
			commit = true
		}
		if !commit {
			continue
		}
		due = nil
		var err error
		if len(ops) > 0 {
			err = w.db.Update(func(tx *bolt.Tx) error { return applyOps(tx, ops, end) })
			if err != nil {
				// The frames stay in the log, and Open applies them.
				w.logger.Error("applying the state log to the state file failed", "error", err.Error())
				err = fmt.Errorf("applying the state log: %w", err)
				due = time.After(applyDelay)
			} else {
				ops = ops[:0]
				w.appliedMu.Lock()
				w.applied = end
				w.appliedMu.Unlock()
			}
		}
		for _, f := range flushes {
			f <- err
		}
		flushes = flushes[:0]
	}
}

// close refuses new writes, lets the queued ones be written and applied,
// and waits for both to end.
func (w *wal) close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.calls)
	}
	w.mu.Unlock()
	<-w.done
	<-w.applierEnded
}

// syncDir syncs a directory, so that a file created or renamed in it is
// found after a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}
