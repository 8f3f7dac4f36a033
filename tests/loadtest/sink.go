package main

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// countingSink is the provider endpoint of the load test: it answers every
// request 200 and counts. It shares two cores with herald and wrk, so it is a
// bare HTTP/1.1 responder rather than net/http: no header maps, no body kept,
// no per-request allocation beyond bufio's. It understands what Go's and
// most clients send: Content-Length or chunked bodies, keep-alive,
// Connection: close and Expect: 100-continue.
type countingSink struct {
	count atomic.Int64
	l     net.Listener
	URL   string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startSink() (*countingSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &countingSink{l: l, URL: "http://" + l.Addr().String(), conns: map[net.Conn]struct{}{}}
	go s.accept()
	return s, nil
}

func (s *countingSink) accept() {
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			_ = s.serve(c)
			c.Close()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

var (
	okResponse       = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	okCloseResponse  = []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
	continueResponse = []byte("HTTP/1.1 100 Continue\r\n\r\n")
	errBadRequest    = errors.New("sink: malformed request")
)

// serve answers the requests of one connection until it closes.
func (s *countingSink) serve(c net.Conn) error {
	r := bufio.NewReaderSize(c, 16<<10)
	w := bufio.NewWriterSize(c, 4<<10)
	for {
		if err := c.SetReadDeadline(time.Now().Add(2 * time.Minute)); err != nil {
			return err
		}
		length, chunked, closeAfter, expect, err := readHead(r)
		if err != nil {
			return err
		}
		if expect {
			if _, err := c.Write(continueResponse); err != nil {
				return err
			}
		}
		if chunked {
			err = discardChunked(r)
		} else if length > 0 {
			_, err = r.Discard(int(length))
		}
		if err != nil {
			return err
		}
		s.count.Add(1)
		resp := okResponse
		if closeAfter {
			resp = okCloseResponse
		}
		if _, err := w.Write(resp); err != nil {
			return err
		}
		// Flush only when no further pipelined request is already buffered.
		if r.Buffered() == 0 || closeAfter {
			if err := w.Flush(); err != nil {
				return err
			}
		}
		if closeAfter {
			return nil
		}
	}
}

// readHead reads a request line and headers and returns what framing needs.
func readHead(r *bufio.Reader) (length int64, chunked, closeAfter, expect bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return 0, false, false, false, err
	}
	if bytes.HasSuffix(bytes.TrimRight(line, "\r\n"), []byte("HTTP/1.0")) {
		closeAfter = true
	}
	for {
		line, err = r.ReadSlice('\n')
		if err != nil {
			return 0, false, false, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			return length, chunked, closeAfter, expect, nil
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, false, false, errBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(value), 10, 64)
			if err != nil || length < 0 {
				return 0, false, false, false, errBadRequest
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				closeAfter = true
			}
		case bytes.EqualFold(name, []byte("Expect")):
			expect = bytes.EqualFold(value, []byte("100-continue"))
		}
	}
}

// discardChunked skips a chunked body and its trailers.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 {
			return errBadRequest
		}
		if size == 0 {
			for { // trailers until the blank line
				line, err := r.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := r.Discard(int(size)); err != nil {
			return err
		}
		if _, err := r.Discard(2); err != nil { // CRLF after the data
			return err
		}
	}
}

func (s *countingSink) Count() int64 { return s.count.Load() }

// Close stops accepting, closes open connections and waits for them.
func (s *countingSink) Close() {
	_ = s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// waitForCount waits until the count reaches want, or until it has not moved
// for stall. It returns the last count and how long it waited.
func (s *countingSink) waitForCount(want int64, stall, max time.Duration) (int64, time.Duration) {
	start := time.Now()
	last, lastChange := s.Count(), start
	for {
		n := s.Count()
		if n >= want {
			return n, time.Since(start)
		}
		if n != last {
			last, lastChange = n, time.Now()
		}
		if time.Since(lastChange) > stall || time.Since(start) > max {
			return n, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitQuiet waits until the count has not changed for quiet, at most max,
// and returns it: deliveries of requests still in flight have then arrived.
func (s *countingSink) waitQuiet(quiet, max time.Duration) int64 {
	start := time.Now()
	last, lastChange := s.Count(), start
	for time.Since(lastChange) < quiet && time.Since(start) < max {
		time.Sleep(20 * time.Millisecond)
		if n := s.Count(); n != last {
			last, lastChange = n, time.Now()
		}
	}
	return last
}
