package buffer

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func open(t *testing.T, dir string, opts Options) *Buffer {
	t.Helper()
	if opts.MaxBytes == 0 {
		opts.MaxBytes = 64 << 20
	}
	b, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func next(t *testing.T, b *Buffer) Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := b.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func appendN(t *testing.T, b *Buffer, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		if err := b.Append(context.Background(), fmt.Sprintf("k%d", i%3), []byte(fmt.Sprintf("event-%d", i)), time.Unix(int64(1000+i), 0)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOrderAndAck(t *testing.T) {
	b := open(t, t.TempDir(), Options{})
	defer b.Close()
	appendN(t, b, 0, 5)
	for i := 0; i < 5; i++ {
		r := next(t, b)
		if string(r.Body) != fmt.Sprintf("event-%d", i) || r.Key != fmt.Sprintf("k%d", i%3) || r.ReceivedAt.Unix() != int64(1000+i) {
			t.Fatalf("record %d = %+v", i, r)
		}
		if i != 2 {
			b.Ack(r.Index)
		}
	}
	s := b.Stats()
	if s.Events != 1 || s.Oldest.Unix() != 1002 {
		t.Fatalf("stats %+v, want the one unacknowledged record, received at 1002", s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Next(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Next on a drained buffer = %v, want to wait", err)
	}
}

// TestRestartResendsUnacknowledged: what was not acknowledged before Close
// (or a crash) is handed out again, in order, and nothing acknowledged is.
func TestRestartResendsUnacknowledged(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	appendN(t, b, 0, 6)
	for i := 0; i < 3; i++ {
		b.Ack(next(t, b).Index)
	}
	next(t, b) // in flight, never acknowledged
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, dir, Options{})
	defer b.Close()
	for i := 3; i < 6; i++ {
		if r := next(t, b); string(r.Body) != fmt.Sprintf("event-%d", i) {
			t.Fatalf("after restart got %q, want event-%d", r.Body, i)
		}
	}
	if s := b.Stats(); s.Events != 3 {
		t.Fatalf("stats %+v", s)
	}
}

// TestCrashWithoutClose: records appended are on disk without Close.
func TestCrashWithoutClose(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	appendN(t, b, 0, 3)
	// Leave b open, as a killed process would, and open the folder again.
	b2 := open(t, dir, Options{})
	defer b2.Close()
	for i := 0; i < 3; i++ {
		if r := next(t, b2); string(r.Body) != fmt.Sprintf("event-%d", i) {
			t.Fatalf("got %q", r.Body)
		}
	}
}

func TestFullDropsOldestPending(t *testing.T) {
	var mu sync.Mutex
	var dropped []uint64
	one := int64(len(encode("k0", []byte("event-0"), time.Unix(0, 0))))
	b := open(t, t.TempDir(), Options{MaxBytes: 4 * one, OnDrop: func(r Record) {
		mu.Lock()
		dropped = append(dropped, r.Index)
		mu.Unlock()
	}})
	defer b.Close()
	appendN(t, b, 0, 1)
	inflight := next(t, b) // event-0 is being sent: kept
	if !b.Claim(inflight.Index) {
		t.Fatal("Claim of a record handed out refused")
	}
	appendN(t, b, 1, 7)
	mu.Lock()
	got := fmt.Sprint(dropped)
	mu.Unlock()
	// Six more records into room for four, one of them in flight: the three
	// oldest pending ones (event-1, 2, 3) go.
	if want := fmt.Sprint([]uint64{inflight.Index + 1, inflight.Index + 2, inflight.Index + 3}); got != want {
		t.Fatalf("dropped %s, want %s", got, want)
	}
	for i := 4; i < 7; i++ {
		if r := next(t, b); string(r.Body) != fmt.Sprintf("event-%d", i) {
			t.Fatalf("got %q, want event-%d", r.Body, i)
		}
	}
	if s := b.Stats(); s.Bytes != 4*one || s.Events != 4 {
		t.Fatalf("stats %+v, want 4 records of %d bytes", s, one)
	}
}

// A record handed out but not in a try (queued at a sender, or waiting for
// its next try) is as droppable as a pending one: the oldest go first, and
// Claim tells the sender not to send it.
func TestFullDropsHandedOutUnclaimed(t *testing.T) {
	var mu sync.Mutex
	var dropped []uint64
	one := int64(len(encode("k0", []byte("event-0"), time.Unix(0, 0))))
	b := open(t, t.TempDir(), Options{MaxBytes: 4 * one, OnDrop: func(r Record) {
		mu.Lock()
		dropped = append(dropped, r.Index)
		mu.Unlock()
	}})
	defer b.Close()
	appendN(t, b, 0, 2)
	queued := next(t, b) // event-0: handed out, never claimed
	retrying := next(t, b)
	if !b.Claim(retrying.Index) {
		t.Fatal("Claim refused")
	}
	b.Unclaim(retrying.Index) // event-1: its try failed, waiting to retry
	appendN(t, b, 2, 6)
	mu.Lock()
	got := fmt.Sprint(dropped)
	mu.Unlock()
	if want := fmt.Sprint([]uint64{queued.Index, retrying.Index}); got != want {
		t.Fatalf("dropped %s, want %s (the two oldest)", got, want)
	}
	if b.Claim(queued.Index) || b.Claim(retrying.Index) {
		t.Fatal("Claim of a dropped record succeeded")
	}
	if s := b.Stats(); s.Bytes != 4*one || s.Events != 4 {
		t.Fatalf("stats %+v, want 4 records of %d bytes", s, one)
	}
}

func TestTornTailRepaired(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	appendN(t, b, 0, 3)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Join(dir, fmt.Sprintf("%020d", 1))
	f, err := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The start of a 100-byte record, cut off by a crash.
	if _, err := f.Write([]byte{100, 1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b = open(t, dir, Options{})
	defer b.Close()
	if s := b.Stats(); s.Events != 3 {
		t.Fatalf("after repair: %+v, want the 3 whole records", s)
	}
	appendN(t, b, 3, 4)
	for i := 0; i < 4; i++ {
		if r := next(t, b); string(r.Body) != fmt.Sprintf("event-%d", i) {
			t.Fatalf("got %q", r.Body)
		}
	}
}

func TestChecksum(t *testing.T) {
	data := encode("k", []byte("body"), time.Unix(5, 0))
	if r, err := decode(1, data); err != nil || string(r.Body) != "body" || r.Key != "k" {
		t.Fatalf("decode = %+v, %v", r, err)
	}
	data[len(data)-1] ^= 1
	if _, err := decode(1, data); err == nil {
		t.Fatal("a flipped bit was not detected")
	}
}

// TestConcurrentAppends: concurrent appends each land once, sharing commits.
func TestConcurrentAppends(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{TrimInterval: 10 * time.Millisecond})
	var wg sync.WaitGroup
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := b.Append(context.Background(), "k", []byte(fmt.Sprintf("%d-%d", w, i)), time.Now()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := 0; i < 800; i++ {
		r := next(t, b)
		if seen[string(r.Body)] {
			t.Fatalf("%s handed out twice", r.Body)
		}
		seen[string(r.Body)] = true
		b.Ack(r.Index)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = open(t, dir, Options{})
	defer b.Close()
	if s := b.Stats(); s.Events != 0 {
		t.Fatalf("after acknowledging everything and reopening: %+v", s)
	}
}

func BenchmarkAppend(b *testing.B) {
	buf, err := Open(b.TempDir(), Options{MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	body := make([]byte, 800)
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := buf.Append(context.Background(), "k", body, time.Now()); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestCorruptRecordDropped: a record damaged on disk is reported and
// dropped; the buffer still opens and hands out the records around it.
func TestCorruptRecordDropped(t *testing.T) {
	dir := t.TempDir()
	b := open(t, dir, Options{})
	appendN(t, b, 0, 3)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	damaged := 0
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(data, []byte("event-1")); i >= 0 {
			data[i] ^= 0x20 // "Event-1": same length, wrong checksum
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			damaged++
		}
	}
	if damaged != 1 {
		t.Fatalf("found the record in %d segments, want 1", damaged)
	}

	var mu sync.Mutex
	var bad []uint64
	b = open(t, dir, Options{OnCorrupt: func(i uint64, err error) {
		mu.Lock()
		defer mu.Unlock()
		bad = append(bad, i)
	}})
	defer b.Close()
	mu.Lock()
	if len(bad) != 1 || bad[0] != 2 {
		t.Fatalf("OnCorrupt saw %v, want record 2", bad)
	}
	mu.Unlock()
	if s := b.Stats(); s.Events != 2 {
		t.Fatalf("stats %+v, want the 2 intact records", s)
	}
	for _, want := range []string{"event-0", "event-2"} {
		r := next(t, b)
		if string(r.Body) != want {
			t.Fatalf("next = %q, want %q", r.Body, want)
		}
		b.Ack(r.Index)
	}
	if s := b.Stats(); s.Events != 0 || s.Bytes != 0 {
		t.Fatalf("stats %+v after acknowledging everything", s)
	}
}
