package main

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The sink must frame requests exactly, or the counts it reports are wrong.
func TestSinkCountsRequests(t *testing.T) {
	s, err := startSink()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	client := &http.Client{Timeout: 5 * time.Second}

	post := func(body io.Reader) {
		t.Helper()
		resp, err := client.Post(s.URL+"/load-0001", "application/json", body)
		if err != nil {
			t.Fatal(err)
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || len(reply) != 0 {
			t.Fatalf("sink answered %d %q", resp.StatusCode, reply)
		}
	}
	post(bytes.NewReader([]byte(`{"a":1}`)))                                           // Content-Length
	post(io.MultiReader(strings.NewReader(`{"chunked":`), strings.NewReader(`true}`))) // chunked
	post(bytes.NewReader(bytes.Repeat([]byte("x"), 100<<10)))                          // larger than the read buffer
	post(bytes.NewReader(nil))

	// Two pipelined requests on one raw connection, then Connection: close.
	c, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	raw := "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}" +
		"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nX-Trailer: 1\r\n\r\n" +
		"POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	replies, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(replies), "HTTP/1.1 200 OK"); n != 3 {
		t.Errorf("got %d responses on the pipelined connection: %q", n, replies)
	}
	if got := s.Count(); got != 7 {
		t.Errorf("count = %d, want 7", got)
	}
}
