package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

// The inbox's documented bounds (README, herald serve): the last 100
// requests, a body cut at 256 KiB with a marker, 8 MiB in all.
const (
	inboxRequests  = 100
	inboxBodyBytes = 256 << 10
	inboxBytes     = 8 << 20
)

func inboxMux(in *Inbox) *http.ServeMux {
	mux := http.NewServeMux()
	in.Register(mux)
	return mux
}

func postInbox(t testing.TB, mux http.Handler, path string, body []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
	if rec.Code != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, rec.Code, rec.Body.String())
	}
}

// listed is a request as GET /inbox lists it.
type listed struct {
	Path      string `json:"path"`
	Body      string `json:"body"`
	Size      int64  `json:"size"`
	Truncated bool   `json:"truncated"`
}

func listInbox(t *testing.T, mux http.Handler) []listed {
	t.Helper()
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/inbox", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /inbox: %d", rec.Code)
	}
	var out []listed
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("GET /inbox is not a JSON list: %v\n%.300s", err, rec.Body.String())
	}
	return out
}

// heap is the live heap after a collection.
func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func totalAlloc() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// discardWriter is a client that reads the answer and keeps none of it.
type discardWriter struct {
	h http.Header
	n int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += len(p); return len(p), nil }

// TestInboxIsBounded posts 200 bodies of 3 MiB (the ingest cap), which took
// an unbounded inbox past 400 MB, and one listing past 1 GB: what it keeps,
// and what the heap holds and a listing allocates, stay within the bounds.
func TestInboxIsBounded(t *testing.T) {
	in := NewInbox(inboxRequests)
	mux := inboxMux(in)
	big := bytes.Repeat([]byte("x"), MaxEventBytes)
	before := heap()
	for i := range 200 {
		copy(big, fmt.Sprintf("request %03d ", i))
		postInbox(t, mux, fmt.Sprintf("/inbox/big/%d", i), big)
	}
	held := int64(heap()) - int64(before)
	if held > 3*inboxBytes {
		t.Errorf("the inbox holds %d MiB of heap after 200 posts of 3 MiB; want about %d MiB at most", held>>20, inboxBytes>>20)
	}

	w := &discardWriter{h: http.Header{}}
	allocBefore := totalAlloc()
	mux.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/inbox", nil))
	if alloc := totalAlloc() - allocBefore; alloc > 4*inboxBytes {
		t.Errorf("one GET /inbox allocated %d MiB for a %d MiB answer; want it streamed", alloc>>20, w.n>>20)
	}

	got := listInbox(t, mux)
	if len(got) == 0 || len(got) > inboxRequests {
		t.Fatalf("%d requests kept, want 1 to %d", len(got), inboxRequests)
	}
	var kept int
	for _, r := range got {
		kept += len(r.Body)
		if !r.Truncated || r.Size != MaxEventBytes {
			t.Fatalf("%s: truncated %v, size %d; want true, %d", r.Path, r.Truncated, r.Size, MaxEventBytes)
		}
		marker := fmt.Sprintf("[herald inbox: body truncated, %d bytes received, the first %d kept]", MaxEventBytes, inboxBodyBytes)
		if !strings.HasSuffix(r.Body, marker) || len(r.Body) > inboxBodyBytes+len(marker)+1 {
			t.Fatalf("%s: body of %d bytes ends %q; want the first %d bytes and the marker %q", r.Path, len(r.Body), r.Body[max(0, len(r.Body)-120):], inboxBodyBytes, marker)
		}
	}
	if kept > inboxBytes {
		t.Errorf("bodies kept: %d bytes, over the bound of %d", kept, inboxBytes)
	}
	// The newest are kept, in order.
	if last := got[len(got)-1]; last.Path != "/inbox/big/199" || !strings.HasPrefix(last.Body, "request 199 ") {
		t.Errorf("last request kept: %s %.20q; want the newest, /inbox/big/199", last.Path, last.Body)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Path >= got[i].Path {
			t.Fatalf("listing out of order: %s before %s", got[i-1].Path, got[i].Path)
		}
	}
}

// TestInboxCountBound: small requests are bounded by count, oldest out
// first, and kept whole.
func TestInboxCountBound(t *testing.T) {
	mux := inboxMux(NewInbox(10))
	if got := listInbox(t, mux); len(got) != 0 {
		t.Fatalf("empty inbox lists %d", len(got))
	}
	for i := range 25 {
		postInbox(t, mux, fmt.Sprintf("/inbox/w/%02d", i), []byte(`{"n":`+fmt.Sprint(i)+`}`))
	}
	got := listInbox(t, mux)
	if len(got) != 10 || got[0].Path != "/inbox/w/15" || got[9].Path != "/inbox/w/24" {
		t.Fatalf("kept %d: first %s, last %s; want 10, /inbox/w/15 to /inbox/w/24", len(got), got[0].Path, got[len(got)-1].Path)
	}
	if got[9].Body != `{"n":24}` || got[9].Truncated || got[9].Size != 8 {
		t.Fatalf("a small body: %+v", got[9])
	}
}

// TestInboxCutKeepsUTF8: a cut inside a multi-byte character drops it
// rather than list half of it.
func TestInboxCutKeepsUTF8(t *testing.T) {
	in := NewInbox(1)
	in.MaxBodyBytes = 4
	mux := inboxMux(in)
	postInbox(t, mux, "/inbox/u", []byte("abcé and more"))
	got := listInbox(t, mux)
	if len(got) != 1 || !strings.HasPrefix(got[0].Body, "abc\n[herald inbox: body truncated, 14 bytes received, the first 3 kept]") {
		t.Fatalf("listed %+v", got)
	}
}
