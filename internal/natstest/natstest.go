// Package natstest runs a real nats-server for tests, with its monitoring
// endpoint, so that tests can count the connections a client keeps open.
package natstest

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Server is a nats-server on loopback ports, stopped with the test.
type Server struct {
	// URL is the client URL, nats://127.0.0.1:port.
	URL     string
	monitor string
}

// Start runs nats-server with its monitoring endpoint and waits until it
// accepts connections. It fails the test when nats-server is not installed
// (Debian: apt-get install nats-server).
func Start(tb testing.TB) *Server {
	tb.Helper()
	path, err := exec.LookPath("nats-server")
	if err != nil {
		path = "/usr/sbin/nats-server"
		if _, err := os.Stat(path); err != nil {
			tb.Fatal("nats-server not found: apt-get install nats-server")
		}
	}
	port, mport := freePort(tb), freePort(tb)
	cmd := exec.Command(path, "-a", "127.0.0.1", "-p", strconv.Itoa(port), "-m", strconv.Itoa(mport))
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return &Server{URL: "nats://" + addr, monitor: "http://127.0.0.1:" + strconv.Itoa(mport)}
		}
	}
	tb.Fatal("nats-server did not start")
	return nil
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Conn is an open client connection as the server's /connz reports it.
type Conn struct {
	CID    uint64 `json:"cid"`
	Name   string `json:"name"`
	InMsgs int    `json:"in_msgs"`
}

// Connections returns the open connections whose client name is name.
func (s *Server) Connections(tb testing.TB, name string) []Conn {
	tb.Helper()
	resp, err := http.Get(s.monitor + "/connz")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Connections []Conn `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
		tb.Fatal(err)
	}
	var named []Conn
	for _, conn := range c.Connections {
		if conn.Name == name {
			named = append(named, conn)
		}
	}
	return named
}

// WaitConnections polls until exactly n connections named name are open,
// or a few seconds have passed, and returns the last answer: the server
// sees a client's close a moment after the client made it.
func (s *Server) WaitConnections(tb testing.TB, name string, n int) []Conn {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		conns := s.Connections(tb, name)
		if len(conns) == n || time.Now().After(deadline) {
			return conns
		}
		time.Sleep(20 * time.Millisecond)
	}
}
