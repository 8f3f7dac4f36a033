package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Herald's counters the load test reads from /metrics, when present.
const (
	metricReceived  = "herald_events_received_total"
	metricDuplicate = "herald_events_duplicate_total"
)

// scrape reads herald's Prometheus text exposition and sums every sample of
// each herald_* metric over its labels.
func scrape(baseURL string) (map[string]float64, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(baseURL + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	sums := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "herald_") {
			continue
		}
		name, rest := line, ""
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name, rest = line[:i], line[i:]
		}
		if strings.HasPrefix(rest, "{") {
			j := strings.LastIndexByte(rest, '}')
			if j < 0 {
				return nil, fmt.Errorf("metrics: bad line %q", line)
			}
			rest = rest[j+1:]
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 {
			return nil, fmt.Errorf("metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics: %q: %w", line, err)
		}
		sums[name] += v
	}
	return sums, sc.Err()
}

// heraldAccepted is the number of events herald accepted between two
// scrapes, by its own count, or -1 when it does not expose the counters.
func heraldAccepted(before, after map[string]float64) int64 {
	if _, ok := after[metricReceived]; !ok {
		return -1
	}
	received := after[metricReceived] - before[metricReceived]
	dups := after[metricDuplicate] - before[metricDuplicate]
	return int64(received - dups)
}
