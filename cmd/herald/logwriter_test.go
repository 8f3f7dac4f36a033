package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writes++
	return l.b.Write(p)
}

func (l *lockedBuffer) snapshot() (string, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String(), l.writes
}

func TestLogWriterBatchesAndFlushes(t *testing.T) {
	var out lockedBuffer
	w := newLogWriter(&out, 20*time.Millisecond)
	for range 100 {
		if _, err := w.Write([]byte("{\"msg\":\"delivered\"}\n")); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		text, writes := out.snapshot()
		if strings.Count(text, "\n") == 100 {
			if writes > 3 {
				t.Fatalf("100 lines took %d writes, want them batched", writes)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed by the timer: %q", text)
		}
		time.Sleep(5 * time.Millisecond)
	}
	w.Write([]byte("last\n"))
	w.Close()
	if text, _ := out.snapshot(); !strings.HasSuffix(text, "last\n") {
		t.Fatal("Close did not flush the last line")
	}
}
