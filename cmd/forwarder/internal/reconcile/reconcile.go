// Package reconcile polls Herald for the reconcile requests its receiver
// recorded for this cluster and applies them: the forwarder is the part of
// Herald that can reach the cluster's API server. The poll cursor moves
// only past requests that were applied, or that failed for good, and it is
// kept on disk so a restart neither repeats nor skips requests.
package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/metrics"
	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/receiver/resourcefilter"
)

// Request is one reconcile request as Herald's poll lists it.
type Request struct {
	ID          string            `json:"id"`
	APIVersion  string            `json:"apiVersion"`
	Kind        string            `json:"kind"`
	Namespace   string            `json:"namespace"`
	Name        string            `json:"name"`
	MatchLabels map[string]string `json:"matchLabels,omitempty"`
	// Filter is what the Receiver's CEL filters left to decide per
	// object; "" selects every object.
	Filter      string    `json:"filter,omitempty"`
	Receiver    string    `json:"receiver"`
	RequestedAt time.Time `json:"requestedAt"`
}

type pollResponse struct {
	Requests []Request `json:"requests"`
	Cursor   string    `json:"cursor"`
}

// Annotator applies a request in the cluster.
type Annotator interface {
	Annotate(ctx context.Context, t kube.Target, value string) (int, error)
}

// maxPollBytes bounds a poll answer: 100 requests of a few hundred bytes
// each, plus a filter of at most resourcefilter.MaxResidualBytes (8 KiB),
// so about 1 MiB at most.
const maxPollBytes = 4 << 20

// Poller polls and applies.
type Poller struct {
	URL        *url.URL // Herald's /reconcile-requests
	Cluster    string
	Token      func() ([]byte, error)
	Client     *http.Client
	Kube       Annotator
	Interval   time.Duration
	CursorFile string
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
	// Now is the clock of the signatures; nil means time.Now.
	Now func() time.Time
}

// Run polls every Interval until ctx is cancelled.
func (p *Poller) Run(ctx context.Context) {
	cursor, err := p.readCursor()
	if err != nil {
		p.Logger.Error("reading the reconcile cursor failed; starting from the oldest request Herald keeps", "error", err.Error())
	}
	t := time.NewTicker(p.Interval)
	defer t.Stop()
	for {
		// A full page means more are waiting: poll again at once.
		for {
			next, more, err := p.PollOnce(ctx, cursor)
			if err != nil && ctx.Err() == nil {
				p.Logger.Warn("polling Herald for reconcile requests failed", "error", err.Error())
			}
			if next != cursor {
				cursor = next
				if err := p.writeCursor(cursor); err != nil {
					p.Logger.Error("saving the reconcile cursor failed", "error", err.Error())
				}
			}
			if !more || err != nil {
				break
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// PollOnce fetches the requests after cursor and applies them in order. It
// returns the new cursor, and whether the page was full and applied.
func (p *Poller) PollOnce(ctx context.Context, cursor string) (string, bool, error) {
	resp, err := p.poll(ctx, cursor)
	if err != nil {
		return cursor, false, err
	}
	for _, r := range resp.Requests {
		if err := p.apply(ctx, r); err != nil {
			// A transient failure: stop here and try this request again
			// at the next poll, so that none is skipped.
			return cursor, false, fmt.Errorf("reconcile request %s for %s %s/%s: %w", r.ID, r.Kind, r.Namespace, r.Name, err)
		}
		cursor = r.ID
	}
	return cursor, len(resp.Requests) > 0 && resp.Cursor != "" && len(resp.Requests) >= 100, nil
}

// apply annotates the request's objects; it returns an error only for a
// failure worth retrying.
func (p *Poller) apply(ctx context.Context, r Request) error {
	log := p.Logger.With("request", r.ID, "receiver", r.Receiver, "kind", r.Kind, "namespace", r.Namespace, "name", r.Name)
	t := kube.Target{APIVersion: r.APIVersion, Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, MatchLabels: r.MatchLabels}
	if r.Filter != "" {
		residual, err := resourcefilter.ParseResidual(r.Filter)
		if err != nil {
			p.Metrics.Reconcile(metrics.ReconcileFailed)
			log.Error("reconcile request failed for good; skipping it", "error", err.Error())
			return nil
		}
		t.Filter = residual.Match
	}
	// The request's own time, in the form Flux's receiver writes: applying
	// a request twice (after a crash) does not trigger a second reconcile.
	n, err := p.Kube.Annotate(ctx, t, r.RequestedAt.UTC().String())
	var filterErrs kube.FilterErrors
	switch {
	case errors.As(err, &filterErrs):
		// A filter that fails on an object fails the same way on the
		// next try, and retrying would hold up every later request:
		// each such object is reported, as Flux reports it, and skipped.
		p.Metrics.Reconcile(metrics.ReconcileFilterError)
		for _, fe := range filterErrs {
			log.Error("unable to request reconciliation", "object", fe.Object, "error", fe.Err.Error())
		}
		if n > 0 {
			log.Info("reconcile requested", "objects", n)
		}
		return nil
	case errors.Is(err, kube.ErrPermanent):
		p.Metrics.Reconcile(metrics.ReconcileFailed)
		log.Error("reconcile request failed for good; skipping it", "error", err.Error())
		return nil
	case err != nil:
		return err
	case n == 0 && r.Filter != "":
		p.Metrics.Reconcile(metrics.ReconcileSkipped)
		log.Info("no object passed the Receiver's filters; skipping the request", "filter", r.Filter)
		return nil
	case n == 0:
		p.Metrics.Reconcile(metrics.ReconcileSkipped)
		log.Warn("no object to reconcile; skipping the request")
		return nil
	}
	p.Metrics.Reconcile(metrics.ReconcileApplied)
	log.Info("reconcile requested", "objects", n)
	return nil
}

func (p *Poller) poll(ctx context.Context, cursor string) (pollResponse, error) {
	u := *p.URL
	u.RawQuery = url.Values{"after": {cursor}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return pollResponse{}, err
	}
	token, err := p.Token()
	if err != nil {
		return pollResponse{}, err
	}
	req.Header.Set("User-Agent", "herald-forwarder")
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	// A fresh nonce per poll: two polls with one cursor in one second are
	// two requests to Herald, not a replay.
	clusterauth.SignRequest(req, p.Cluster, token, nil, now())
	start := time.Now()
	resp, err := p.Client.Do(req)
	p.Metrics.ObserveHerald("poll", time.Since(start))
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return pollResponse{}, fmt.Errorf("request failed: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPollBytes))
	if err != nil {
		return pollResponse{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return pollResponse{}, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body[:min(len(body), 1024)])))
	}
	var out pollResponse
	if err := json.Unmarshal(body, &out); err != nil {
		return pollResponse{}, fmt.Errorf("the poll answer is not JSON: %w", err)
	}
	return out, nil
}

func (p *Poller) readCursor() (string, error) {
	data, err := os.ReadFile(p.CursorFile)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(data)), err
}

// writeCursor replaces the cursor file atomically, so a crash leaves the
// old cursor or the new one.
func (p *Poller) writeCursor(cursor string) error {
	tmp, err := os.CreateTemp(filepath.Dir(p.CursorFile), ".cursor-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(cursor + "\n"); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), p.CursorFile); err != nil {
		return err
	}
	// The rename is durable once the folder is synced.
	dir, err := os.Open(filepath.Dir(p.CursorFile))
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}
