// Package buffer is the forwarder's durable event queue: an append-only,
// segmented log on disk (github.com/tidwall/wal) with a byte bound. An
// append returns only once its record is fsync'd, so an event the relay
// answered 202 survives a crash of the process or the node. Appends from
// concurrent requests share one write and one fsync (group commit).
//
// Records are handed out in the order they were appended and acknowledged
// in any order; the log's front is cut off, in the background, past the
// longest prefix of records that are acknowledged or dropped. After a
// restart every record not cut off yet is handed out again: delivery is at
// least once, and Herald answers a resent event as a duplicate.
package buffer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tidwall/wal"
)

// SegmentSize is the size of one log file. The files on disk may exceed the
// byte bound by about one segment, until the front is cut off. The log keeps
// the segment being written, and the segments it caches, whole in memory,
// so this is also what the buffer costs in memory beyond its index: 1 MiB
// keeps a forwarder with a full 256 MiB buffer under 64 MiB of RSS, where
// 4 MiB did not (tests/loadtest forwarder).
const SegmentSize = 1 << 20

// maxBatchBytes bounds one group commit.
const maxBatchBytes = 8 << 20

// Record is one buffered event.
type Record struct {
	Index      uint64
	ReceivedAt time.Time
	// Key is the involved object; records of one key are sent in order.
	Key  string
	Body []byte
}

// Stats describe what the buffer holds.
type Stats struct {
	Events int
	Bytes  int64
	// Oldest is when the oldest pending record was received; zero when empty.
	Oldest time.Time
}

// Options configure Open.
type Options struct {
	// MaxBytes bounds the pending records (their encoded size).
	MaxBytes int64
	// OnDrop is called for each record dropped to make room, outside locks.
	OnDrop func(r Record)
	// OnCorrupt is called, outside locks, for each record that cannot be
	// read back (a checksum failure, a read error): it is dropped, so that
	// one damaged record neither stops the buffer from opening nor blocks
	// the records behind it.
	OnCorrupt func(index uint64, err error)
	// TrimInterval is how often the acknowledged front is cut off the log;
	// one second when zero.
	TrimInterval time.Duration
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("buffer closed")

type state uint8

const (
	pending  state = iota // not handed out yet
	inFlight              // handed out by Next, not acknowledged, not being sent
	sending               // claimed for a try: on its way to Herald
	done                  // acknowledged or dropped
)

// meta is what the buffer keeps in memory per record: enough to account
// bytes and age and to drop the oldest without reading the log.
type meta struct {
	at    int64 // unix nanoseconds
	size  int32
	state state
} // 16 bytes: a full buffer of 1 KiB events holds some 270,000

// Buffer is the durable queue. It is safe for concurrent use.
type Buffer struct {
	log  *wal.Log
	opts Options

	appends chan *appendReq
	stop    chan struct{}
	wg      sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	base    uint64 // index of metas[0]
	metas   []meta // base .. last index
	cursor  uint64 // next index Next considers
	bytes   int64  // of pending and in-flight records
	count   int
	ready   chan struct{}   // closed and replaced when a record is appended
	trimmed uint64          // the log's first index
	corrupt []corruptRecord // found by load, reported by Open
}

type appendReq struct {
	key  string
	body []byte
	at   time.Time
	done chan error
}

// Open opens or creates the buffer in dir. A log whose last write was torn
// by a crash is repaired by cutting the torn record off: it was never
// acknowledged to its sender.
func Open(dir string, opts Options) (*Buffer, error) {
	if opts.MaxBytes <= 0 {
		return nil, errors.New("buffer: MaxBytes must be positive")
	}
	if opts.TrimInterval <= 0 {
		opts.TrimInterval = time.Second
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	l, err := openLog(dir)
	if errors.Is(err, wal.ErrCorrupt) {
		if rerr := repairTail(dir); rerr != nil {
			return nil, fmt.Errorf("buffer %s is corrupt and could not be repaired: %w", dir, rerr)
		}
		l, err = openLog(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("buffer %s: %w", dir, err)
	}
	b := &Buffer{
		log:     l,
		opts:    opts,
		appends: make(chan *appendReq, 1024),
		stop:    make(chan struct{}),
		ready:   make(chan struct{}),
	}
	if err := b.load(); err != nil {
		l.Close()
		return nil, err
	}
	var dropped []Record
	b.mu.Lock()
	dropped = b.makeRoomLocked(0)
	b.mu.Unlock()
	b.reportCorrupt(b.corrupt)
	b.corrupt = nil
	b.reportDrops(dropped)
	b.wg.Add(2)
	go b.commitLoop()
	go b.trimLoop()
	return b, nil
}

func openLog(dir string) (*wal.Log, error) {
	return wal.Open(dir, &wal.Options{
		SegmentSize: SegmentSize,
		// Reads come from the front, one segment at a time; the log also
		// caches each segment it finishes writing, which a second slot
		// would keep in memory for nothing.
		SegmentCacheSize: 1,
		AllowEmpty:       true,
		DirPerms:         0o700,
		FilePerms:        0o600,
	})
}

// load rebuilds the in-memory index from the records on disk.
func (b *Buffer) load() error {
	first, err := b.log.FirstIndex()
	if err != nil {
		return err
	}
	last, err := b.log.LastIndex()
	if err != nil {
		return err
	}
	b.base, b.cursor, b.trimmed = first, first, first
	for i := first; i <= last; i++ {
		data, err := b.log.Read(i)
		var r Record
		if err == nil {
			r, err = decode(i, data)
		}
		if err != nil {
			b.corrupt = append(b.corrupt, corruptRecord{i, err})
			b.metas = append(b.metas, meta{state: done})
			continue
		}
		b.metas = append(b.metas, meta{size: int32(len(data)), at: r.ReceivedAt.UnixNano()})
		b.bytes += int64(len(data))
		b.count++
	}
	b.compactLocked()
	return nil
}

type corruptRecord struct {
	index uint64
	err   error
}

func (b *Buffer) reportCorrupt(bad []corruptRecord) {
	if b.opts.OnCorrupt == nil {
		return
	}
	for _, c := range bad {
		b.opts.OnCorrupt(c.index, c.err)
	}
}

// Append writes one record and returns once it is on disk.
func (b *Buffer) Append(ctx context.Context, key string, body []byte, at time.Time) error {
	req := &appendReq{key: key, body: body, at: at, done: make(chan error, 1)}
	select {
	case b.appends <- req:
	case <-b.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		// The write may still land; the caller answers an error, and the
		// sender's retry is absorbed by Herald's de-duplication.
		return ctx.Err()
	}
}

// commitLoop writes the appends waiting at once as one batch with one
// fsync, so that concurrent requests share the cost of the disk flush.
func (b *Buffer) commitLoop() {
	defer b.wg.Done()
	var batch []*appendReq
	for {
		select {
		case req := <-b.appends:
			batch = append(batch[:0], req)
		case <-b.stop:
			b.failPending()
			return
		}
		size := len(batch[0].body)
	gather:
		for size < maxBatchBytes {
			select {
			case req := <-b.appends:
				batch = append(batch, req)
				size += len(req.body)
			default:
				break gather
			}
		}
		err := b.commit(batch)
		for _, req := range batch {
			req.done <- err
		}
	}
}

func (b *Buffer) failPending() {
	for {
		select {
		case req := <-b.appends:
			req.done <- ErrClosed
		default:
			return
		}
	}
}

func (b *Buffer) commit(batch []*appendReq) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return ErrClosed
	}
	b.mu.Unlock()
	// With AllowEmpty the next index is LastIndex()+1 even in an empty log.
	last, err := b.log.LastIndex()
	if err != nil {
		return err
	}
	var wb wal.Batch
	metas := make([]meta, len(batch))
	var added int64
	for i, req := range batch {
		data := encode(req.key, req.body, req.at)
		wb.Write(last+1+uint64(i), data)
		metas[i] = meta{size: int32(len(data)), at: req.at.UnixNano()}
		added += int64(len(data))
	}
	if err := b.log.WriteBatch(&wb); err != nil {
		return err
	}
	b.mu.Lock()
	if len(b.metas) == 0 {
		b.base = last + 1
		if b.cursor < b.base {
			b.cursor = b.base
		}
	}
	b.metas = append(b.metas, metas...)
	b.bytes += added
	b.count += len(batch)
	dropped := b.makeRoomLocked(0)
	close(b.ready)
	b.ready = make(chan struct{})
	b.mu.Unlock()
	b.reportDrops(dropped)
	return nil
}

// makeRoomLocked drops the oldest records until the bytes held plus extra
// fit the bound. That includes records handed out by Next that wait in a
// sender's queue or between two tries: the oldest go first, whoever holds
// them, and Claim tells their holder. Only a record in a try (claimed) is
// kept, as the try may deliver it and it must not be counted as lost; it
// becomes droppable again when the try fails (Unclaim). The newest record
// is never dropped.
func (b *Buffer) makeRoomLocked(extra int64) []Record {
	var dropped []Record
	for i := b.base; b.bytes+extra > b.opts.MaxBytes && i < b.base+uint64(len(b.metas))-1; i++ {
		m := &b.metas[i-b.base]
		if m.state != pending && m.state != inFlight {
			continue
		}
		m.state = done
		b.bytes -= int64(m.size)
		b.count--
		dropped = append(dropped, Record{Index: i, ReceivedAt: time.Unix(0, m.at)})
		if i == b.cursor {
			b.cursor++
		}
	}
	b.compactLocked()
	return dropped
}

func (b *Buffer) reportDrops(dropped []Record) {
	if b.opts.OnDrop == nil {
		return
	}
	for _, r := range dropped {
		b.opts.OnDrop(r)
	}
}

// Next returns the oldest record not handed out yet, waiting for one.
func (b *Buffer) Next(ctx context.Context) (Record, error) {
	for {
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			return Record{}, ErrClosed
		}
		end := b.base + uint64(len(b.metas))
		for b.cursor < end && b.metas[b.cursor-b.base].state != pending {
			b.cursor++
		}
		if b.cursor < end {
			i := b.cursor
			b.metas[i-b.base].state = inFlight
			b.cursor++
			b.mu.Unlock()
			data, err := b.log.Read(i)
			var r Record
			if err == nil {
				r, err = decode(i, data)
			}
			if err != nil {
				// Left in flight, the record would never be acknowledged
				// and would pin the log's front forever; drop it and go on.
				b.Ack(i)
				b.reportCorrupt([]corruptRecord{{i, err}})
				continue
			}
			return r, nil
		}
		ready := b.ready
		b.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return Record{}, ctx.Err()
		case <-b.stop:
			return Record{}, ErrClosed
		}
	}
}

// Claim marks a record handed out by Next as being tried, so that it is not
// dropped to make room during the try. It returns false when the record was
// dropped already while it waited: the caller must not send it.
func (b *Buffer) Claim(index uint64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if index < b.base || index >= b.base+uint64(len(b.metas)) {
		return false
	}
	m := &b.metas[index-b.base]
	if m.state == done {
		return false
	}
	m.state = sending
	return true
}

// Unclaim ends a try that did not deliver the record: until the next Claim
// it may be dropped to make room, and it is at once if the buffer is over
// its bound.
func (b *Buffer) Unclaim(index uint64) {
	b.mu.Lock()
	if index < b.base || index >= b.base+uint64(len(b.metas)) {
		b.mu.Unlock()
		return
	}
	m := &b.metas[index-b.base]
	if m.state == sending {
		m.state = inFlight
	}
	dropped := b.makeRoomLocked(0)
	b.mu.Unlock()
	b.reportDrops(dropped)
}

// Ack marks a record handed out by Next as done.
func (b *Buffer) Ack(index uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if index < b.base || index >= b.base+uint64(len(b.metas)) {
		return
	}
	m := &b.metas[index-b.base]
	if m.state == done {
		return
	}
	m.state = done
	b.bytes -= int64(m.size)
	b.count--
	b.compactLocked()
}

// compactLocked forgets the done prefix of the in-memory index; trimLoop
// cuts the same prefix off the log.
func (b *Buffer) compactLocked() {
	n := 0
	for n < len(b.metas) && b.metas[n].state == done {
		n++
	}
	if n == 0 {
		return
	}
	b.base += uint64(n)
	b.metas = b.metas[n:]
	if len(b.metas) == 0 {
		b.metas = nil // release the backing array
	}
	if b.cursor < b.base {
		b.cursor = b.base
	}
}

// Stats reports the pending and in-flight records.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := Stats{Events: b.count, Bytes: b.bytes}
	for _, m := range b.metas {
		if m.state != done {
			s.Oldest = time.Unix(0, m.at)
			break
		}
	}
	return s
}

// trimLoop cuts the done front off the log, at most once per interval:
// cutting inside a segment rewrites it, which is worth doing in bulk.
func (b *Buffer) trimLoop() {
	defer b.wg.Done()
	t := time.NewTicker(b.opts.TrimInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.trim()
		case <-b.stop:
			return
		}
	}
}

func (b *Buffer) trim() error {
	b.mu.Lock()
	front := b.base
	b.mu.Unlock()
	if front <= b.trimmed {
		return nil
	}
	if err := b.log.TruncateFront(front); err != nil {
		return err
	}
	b.trimmed = front
	return nil
}

// Close stops the buffer after cutting off the acknowledged front, so that
// a restart resends as little as possible.
func (b *Buffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.mu.Unlock()
	close(b.stop)
	b.wg.Wait()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	terr := b.trim()
	return errors.Join(terr, b.log.Close())
}

// A record on disk: CRC-32C of the rest, receive time (unix nanoseconds),
// key length (uvarint), key, body.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func encode(key string, body []byte, at time.Time) []byte {
	buf := make([]byte, 4, 4+8+binary.MaxVarintLen64+len(key)+len(body))
	buf = binary.BigEndian.AppendUint64(buf, uint64(at.UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(len(key)))
	buf = append(buf, key...)
	buf = append(buf, body...)
	binary.BigEndian.PutUint32(buf, crc32.Checksum(buf[4:], castagnoli))
	return buf
}

var errBadRecord = errors.New("buffer: record fails its checksum")

func decode(index uint64, data []byte) (Record, error) {
	if len(data) < 13 || binary.BigEndian.Uint32(data) != crc32.Checksum(data[4:], castagnoli) {
		return Record{}, fmt.Errorf("record %d: %w", index, errBadRecord)
	}
	at := int64(binary.BigEndian.Uint64(data[4:12]))
	klen, n := binary.Uvarint(data[12:])
	if n <= 0 || uint64(len(data)-12-n) < klen {
		return Record{}, fmt.Errorf("record %d: %w", index, errBadRecord)
	}
	key := data[12+n : 12+n+int(klen)]
	return Record{Index: index, ReceivedAt: time.Unix(0, at), Key: string(key), Body: data[12+n+int(klen):]}, nil
}

// repairTail cuts a torn record off the end of the last segment. The log's
// binary format is a sequence of uvarint(length) and data; a crash during
// a write can leave a prefix of one.
func repairTail(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	last := ""
	for _, e := range entries {
		if name := e.Name(); !e.IsDir() && len(name) == 20 && name > last {
			last = name
		}
	}
	if last == "" {
		return errors.New("no segment to repair")
	}
	path := filepath.Join(dir, last)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	good := 0
	for good < len(data) {
		n, w := binary.Uvarint(data[good:])
		if w <= 0 || uint64(len(data)-good-w) < n {
			break
		}
		good += w + int(n)
	}
	if good == len(data) {
		return errors.New("the last segment is intact; the corruption is elsewhere")
	}
	return os.Truncate(path, int64(good))
}
