package main

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// countingSink is the provider endpoint of the load test: it answers 200 and
// counts. It shares the machine's cores with herald and wrk, so it does the
// least it can: no routing, no body kept, no logging.
type countingSink struct {
	count atomic.Int64
	srv   *http.Server
	URL   string
}

func startSink() (*countingSink, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &countingSink{URL: "http://" + l.Addr().String()}
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			s.count.Add(1)
			w.WriteHeader(http.StatusOK)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { _ = s.srv.Serve(l) }()
	return s, nil
}

func (s *countingSink) Count() int64 { return s.count.Load() }

func (s *countingSink) Close() { _ = s.srv.Close() }

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
