// Package sender drains the forwarder's buffer into Herald: one signed POST
// per event, with back-off and without a limit on tries while the event is
// in the buffer. Events of one involved object go through one worker, one
// after another, so Herald sees them in the order Flux sent them.
package sender

import (
	"bytes"
	"context"
	"errors"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/heraldhq/herald/cmd/forwarder/internal/buffer"
	"github.com/heraldhq/herald/cmd/forwarder/internal/metrics"
	"github.com/heraldhq/herald/pkg/clusterauth"
)

// Sender sends buffered events to Herald.
type Sender struct {
	Buffer  *buffer.Buffer
	URL     *url.URL // Herald's event endpoint
	Cluster string
	Token   func() ([]byte, error)
	Client  *http.Client
	// Workers is the number of concurrent sends.
	Workers int
	// RetryMaxDelay caps the back-off between tries.
	RetryMaxDelay time.Duration
	// RetryInitialDelay is the first back-off, doubled at each try; 500 ms
	// when zero.
	RetryInitialDelay time.Duration
	// Grace is how long in-flight and queued sends may go on after the
	// context of Run is cancelled.
	Grace   time.Duration
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// outcome is what Herald's answer means for the event.
type outcome int

const (
	delivered outcome = iota // 202
	duplicate                // Herald already had it
	retry                    // try again later
	rejected                 // a bad event: drop it
)

// maxErrorBody is how much of an error answer is kept for the log.
const maxErrorBody = 1 << 10

// perWorkerQueue bounds the records handed to one worker ahead of time.
const perWorkerQueue = 16

// Run sends until ctx is cancelled, then finishes what the workers hold
// within Grace; what is not sent stays in the buffer for the next start.
func (s *Sender) Run(ctx context.Context) {
	// Sends in flight outlive ctx by Grace, so that a shutdown flushes them.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	finished := make(chan struct{})
	defer close(finished)
	stopAfterGrace := context.AfterFunc(ctx, func() {
		t := time.NewTimer(s.Grace)
		defer t.Stop()
		select {
		case <-t.C:
			cancelSends()
		case <-finished: // everything was flushed within the grace
		}
	})
	defer stopAfterGrace()

	queues := make([]chan buffer.Record, s.Workers)
	var wg sync.WaitGroup
	for i := range queues {
		queues[i] = make(chan buffer.Record, perWorkerQueue)
		wg.Add(1)
		go func(q <-chan buffer.Record) {
			defer wg.Done()
			for rec := range q {
				s.deliver(ctx, sendCtx, rec)
			}
		}(queues[i])
	}
	for {
		rec, err := s.Buffer.Next(ctx)
		if err != nil {
			break
		}
		h := fnv.New32a()
		h.Write([]byte(rec.Key))
		q := queues[int(h.Sum32()%uint32(len(queues)))]
		select {
		case q <- rec:
		case <-ctx.Done():
			// Not handed to a worker: it stays unacknowledged in the
			// buffer and is sent after the restart.
		}
	}
	for _, q := range queues {
		close(q)
	}
	wg.Wait()
}

// deliver sends rec until Herald has it or refuses it. After ctx is
// cancelled it makes one more try at most, on sendCtx.
func (s *Sender) deliver(ctx, sendCtx context.Context, rec buffer.Record) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	if s.RetryInitialDelay > 0 {
		b.InitialInterval = s.RetryInitialDelay
	}
	b.MaxInterval = s.RetryMaxDelay
	b.Multiplier = 2
	b.RandomizationFactor = 0.2
	for try := 1; ; try++ {
		if sendCtx.Err() != nil {
			return
		}
		if !s.Buffer.Claim(rec.Index) {
			// Dropped to make room while it waited: the buffer counted it.
			return
		}
		out, wait, reason := s.send(sendCtx, rec)
		switch out {
		case delivered:
			s.Metrics.Forwarded()
			s.Buffer.Ack(rec.Index)
			return
		case duplicate:
			s.Metrics.HeraldDuplicate()
			s.Buffer.Ack(rec.Index)
			return
		case rejected:
			s.Metrics.Dropped(metrics.DropRejected)
			s.Logger.Error("event dropped: Herald refused it", "object", rec.Key, "reason", reason)
			s.Buffer.Ack(rec.Index)
			return
		}
		// Between tries the record may be dropped if the buffer overflows.
		s.Buffer.Unclaim(rec.Index)
		if ctx.Err() != nil {
			// Shutting down: the event stays in the buffer.
			return
		}
		s.Metrics.Retried()
		delay := min(b.NextBackOff(), s.RetryMaxDelay)
		if wait > delay {
			delay = min(wait, s.RetryMaxDelay)
		}
		level := slog.LevelWarn
		if try > 1 {
			level = slog.LevelDebug // one warning per event is enough
		}
		s.Logger.Log(ctx, level, "sending to Herald failed, will retry", "object", rec.Key, "try", try, "retry_in", delay.String(), "reason", reason)
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
}

// send makes one signed POST of rec and classifies the answer.
func (s *Sender) send(ctx context.Context, rec buffer.Record) (outcome, time.Duration, string) {
	token, err := s.Token()
	if err != nil {
		return retry, 0, err.Error()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL.String(), bytes.NewReader(rec.Body))
	if err != nil {
		return rejected, 0, "building the request failed"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "herald-forwarder")
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	clusterauth.SignRequest(req, s.Cluster, token, rec.Body, now())
	start := time.Now()
	resp, err := s.Client.Do(req)
	s.Metrics.ObserveHerald("events", time.Since(start))
	if err != nil {
		return retry, 0, transportReason(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	out := Classify(resp.StatusCode, resp.Header)
	reason := ""
	if out != delivered && out != duplicate {
		reason = resp.Status
		if len(msg) > 0 {
			reason += ": " + string(bytes.TrimSpace(msg))
		}
	}
	return out, retryAfter(resp.Header), reason
}

// Classify says what Herald's answer means. Herald's duplicate 429 carries
// X-Herald-Duplicate; any other 429 is throttling (API Gateway's) and is
// retried. 401 and 403 are about the forwarder's token or clock, not the
// event, so they are retried too: dropping every event because a token was
// rotated would lose them all. A redirect is not followed (the signature
// binds the target) and is retried for the same reason: it says the URL is
// wrong, not the event. Every 5xx is retried, 501 included: Herald does not
// answer it, and a proxy in front of it may while being reconfigured.
func Classify(status int, h http.Header) outcome {
	switch {
	case status >= 200 && status < 300:
		return delivered
	case status == http.StatusTooManyRequests && h.Get(clusterauth.HeaderDuplicate) == "true":
		return duplicate
	case status == http.StatusTooManyRequests, status == http.StatusRequestTimeout,
		status == http.StatusUnauthorized, status == http.StatusForbidden,
		status >= 300 && status < 400, status >= 500:
		return retry
	default:
		return rejected
	}
}

// retryAfter reads a Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// transportReason describes a failed round trip without the URL, which
// url.Error would repeat in every log line.
func transportReason(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	return "request failed: " + err.Error()
}
