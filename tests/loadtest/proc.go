package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procStats samples a process from /proc while it runs.
type procStats struct {
	pid int

	mu         sync.Mutex
	peakRSS    int64 // bytes, VmHWM
	maxSockets int
	samples    int
	stop       chan struct{}
	done       chan struct{}
}

func sampleProcess(pid int, every time.Duration) *procStats {
	p := &procStats{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			p.sample()
			select {
			case <-p.stop:
				p.sample()
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *procStats) sample() {
	hwm, _ := vmHWM(p.pid)
	socks, _ := countSockets(p.pid)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.samples++
	if hwm > p.peakRSS {
		p.peakRSS = hwm
	}
	if socks > p.maxSockets {
		p.maxSockets = socks
	}
}

// Stop ends the sampling and returns the peak RSS and the most open sockets.
func (p *procStats) Stop() (peakRSS int64, maxSockets int) {
	close(p.stop)
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peakRSS, p.maxSockets
}

// vmHWM is the process's peak resident set size in bytes.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return parseKB(rest)
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// parseKB parses "   123456 kB".
func parseKB(s string) (int64, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 || fields[1] != "kB" {
		return 0, fmt.Errorf("unexpected size %q", s)
	}
	kb, err := strconv.ParseInt(fields[0], 10, 64)
	return kb * 1024, err
}

// countSockets counts the process's file descriptors that are sockets.
func countSockets(pid int) (int, error) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range entries {
		target, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n, nil
}

// cpuTime is the user+system CPU time the process has used.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name in parentheses may hold spaces; fields follow the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	fields := strings.Fields(s[i+1:])
	// After ')': state is field 3 of stat(5), so utime (14) and stime (15)
	// are at indexes 11 and 12 here.
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat times", pid)
	}
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, nil
}

// machineCPU is the machine's CPU time from the "cpu" line of /proc/stat.
type machineCPU struct {
	Busy    time.Duration // user, nice, system, irq, softirq, steal
	SoftIRQ time.Duration // irq and softirq: network processing of all processes
}

func readMachineCPU() (machineCPU, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return machineCPU{}, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return machineCPU{}, fmt.Errorf("unexpected /proc/stat: %q", line)
	}
	var v [8]int64
	for i := range v {
		v[i], err = strconv.ParseInt(fields[i+1], 10, 64)
		if err != nil {
			return machineCPU{}, err
		}
	}
	// user nice system idle iowait irq softirq steal
	const clkTck = 100
	tick := func(n int64) time.Duration { return time.Duration(n) * time.Second / clkTck }
	return machineCPU{
		Busy:    tick(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]),
		SoftIRQ: tick(v[5] + v[6]),
	}, nil
}

func (m machineCPU) sub(o machineCPU) machineCPU {
	return machineCPU{Busy: m.Busy - o.Busy, SoftIRQ: m.SoftIRQ - o.SoftIRQ}
}

// writtenBytes is what pid has caused to be written to storage so far
// (write_bytes of /proc/PID/io): for herald with --state-dir, its state
// file's commits.
func writtenBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, fmt.Errorf("no write_bytes in /proc/%d/io", pid)
}
