package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/metrics"
	"github.com/heraldhq/herald/pkg/rules"
	"github.com/heraldhq/herald/pkg/store"
)

// MaxEventBytes is the largest event body accepted, as in Flux (3 MiB).
const MaxEventBytes = 3 << 20

// enqueueTimeout bounds queueing an event's deliveries: a full in-process
// queue or a slow SQS answer then gets the sender a 503 to retry.
const enqueueTimeout = 5 * time.Second

// Ingest receives Flux events: it authenticates, decodes and cleans them,
// refuses duplicates, matches Alerts and queues one delivery per Alert and
// Provider. It answers before anything is delivered.
type Ingest struct {
	Config  config.Source
	Dedup   store.Deduper
	Queue   delivery.Queue
	Metrics metrics.Recorder
	Logger  *slog.Logger
	// Auth verifies the forwarder's signature; nil turns authentication off.
	Auth *Authenticator
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (h *Ingest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	body, status, err := readBody(w, r, MaxEventBytes)
	if err != nil {
		h.reject(w, status, "body", err.Error())
		return
	}
	var caller Caller
	if h.Auth != nil {
		if caller, err = h.Auth.Verify(r.Context(), r, body, now); err != nil {
			h.reject(w, http.StatusUnauthorized, "unauthenticated", err.Error())
			return
		}
	}
	cluster := caller.Cluster
	ev, err := event.Decode(body)
	if err != nil {
		h.reject(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	if err := ev.Validate(); err != nil {
		h.reject(w, http.StatusBadRequest, "invalid", err.Error())
		return
	}
	h.Metrics.EventReceived()
	ev.CleanMetadata()

	key := ev.DedupKey()
	if cluster != "" {
		// Identical events from two clusters are not duplicates of each other.
		key = cluster + "/" + key
	}
	// A signed request's signature is recorded with the claim, in one
	// write, and whatever the answer: a signature is accepted once.
	var ok, replayed bool
	var reset time.Time
	if h.Auth != nil {
		replayed, ok, reset, err = h.Dedup.ClaimSigned(r.Context(), key, caller.Signature, now)
	} else {
		ok, reset, err = h.Dedup.Claim(r.Context(), key, now)
	}
	if err != nil {
		h.Logger.Error("de-duplication failed", "error", err.Error())
		writeError(w, http.StatusInternalServerError, "de-duplication store unavailable")
		return
	}
	if replayed {
		h.Logger.Warn("replayed request refused", "cluster", cluster, "object", objectRef(&ev))
		h.reject(w, http.StatusUnauthorized, "replayed", ErrReplayed.Error())
		return
	}
	if !ok {
		setRateLimitHeaders(w.Header(), reset)
		h.Metrics.EventDuplicate()
		// Tells the forwarder this 429 means "already have it", unlike API
		// Gateway's throttling 429, which it must retry.
		w.Header().Set(HeaderDuplicate, "true")
		w.Header().Set("Retry-After", reset.UTC().Format(http.TimeFormat))
		writeError(w, http.StatusTooManyRequests, "duplicate event: the same event was accepted within the rate-limit interval")
		return
	}
	snap := h.Config.Snapshot()
	if snap == nil {
		// Without config the event could not be routed: refuse it, so the
		// sender retries, rather than accept and drop it. The claim is
		// given back so that the retry is not a duplicate; the signature
		// stays recorded, and the retry, signed anew, does not need it.
		h.forget(r.Context(), key)
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "config not loaded yet, retry later")
		return
	}
	setRateLimitHeaders(w.Header(), reset)
	ev.DropToken()

	plan := snap.Plan(&ev, cluster, key)
	h.logNotes(&ev, plan.Notes)
	if plan.Matched == 0 {
		h.Logger.Debug("no alert matched", "object", objectRef(&ev))
	}
	if jobs := plan.Jobs; len(jobs) > 0 {
		// A sender that hangs up must not leave half of an event's
		// deliveries queued: enqueue on a context of its own.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), enqueueTimeout)
		err := h.Queue.Enqueue(ctx, jobs...)
		cancel()
		if err != nil {
			// Give the key back so that the sender's retry is not a duplicate.
			h.forget(r.Context(), key)
			h.Logger.Error("queueing deliveries failed", "object", objectRef(&ev), "error", err.Error())
			w.Header().Set("Retry-After", "1")
			writeError(w, http.StatusServiceUnavailable, "delivery queue unavailable, retry later")
			return
		}
	}
	w.WriteHeader(http.StatusAccepted)
}

// forget gives key back after its event was refused, even when the sender
// has hung up.
func (h *Ingest) forget(ctx context.Context, key string) {
	if err := h.Dedup.Forget(context.WithoutCancel(ctx), key); err != nil {
		h.Logger.Error("releasing the de-duplication key failed", "error", err.Error())
	}
}

// logNotes logs what planning dropped or warned about, as Flux logs it.
func (h *Ingest) logNotes(ev *event.Event, notes []config.Note) {
	for _, n := range notes {
		switch n.Kind {
		case config.ProviderMissing:
			h.Logger.Warn("failed to dispatch notification: provider not found",
				"alert", n.Alert, "provider", n.Provider, "object", objectRef(ev))
		case config.Skipped:
			h.Logger.Debug(n.Reason, "alert", n.Alert, "object", objectRef(ev))
		case config.DispatchFailed:
			h.Logger.Warn("failed to dispatch notification for "+objectRef(ev)+": "+n.Reason,
				"alert", n.Alert, "provider", n.Provider)
		case config.MetadataConflict:
			h.Logger.Warn(rules.ConflictMessage, "alert", n.Alert, "conflicts", conflictAttr(n.Conflicts))
		}
	}
}

func (h *Ingest) reject(w http.ResponseWriter, status int, reason, msg string) {
	h.Metrics.EventRejected(reason)
	writeError(w, status, msg)
}

// readBody reads at most limit bytes and says which status a failure earns.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, int, error) {
	if r.ContentLength > limit {
		return nil, http.StatusRequestEntityTooLarge, tooLarge(limit)
	}
	if r.ContentLength > 0 {
		// The length is declared and within the limit, and net/http ends
		// the body there: one buffer of that size, where io.ReadAll would
		// grow one from 512 bytes.
		body := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, body); err != nil {
			return nil, http.StatusBadRequest, errors.New("reading the request body failed")
		}
		return body, 0, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return nil, http.StatusRequestEntityTooLarge, tooLarge(limit)
		}
		return nil, http.StatusBadRequest, errors.New("reading the request body failed")
	}
	return body, 0, nil
}

func tooLarge(limit int64) error {
	return errors.New("request body exceeds " + sizeString(limit))
}

func sizeString(n int64) string {
	if n%(1<<20) == 0 {
		return itoa(n>>20) + " MiB"
	}
	return itoa(n) + " bytes"
}

// setRateLimitHeaders sets the headers Flux's rate limiter sends: one event
// per key per interval, none left, and when the window resets.
func setRateLimitHeaders(h http.Header, reset time.Time) {
	// Every answer carries these: assigned in canonical form, with the
	// constant values shared, they cost no canonicalisation and no
	// allocation but the reset time's. A shared one-element slice is safe:
	// Set replaces it and Add grows a copy.
	h["X-Ratelimit-Limit"] = rateLimitOne
	h["X-Ratelimit-Remaining"] = rateLimitZero
	h["X-Ratelimit-Reset"] = []string{reset.UTC().Format(http.TimeFormat)}
}

var rateLimitOne, rateLimitZero = []string{"1"}, []string{"0"}

func objectRef(ev *event.Event) string {
	o := ev.InvolvedObject
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// conflictAttr renders conflicts as Flux annotates its warning:
// key: "source1, source2".
func conflictAttr(c rules.Conflicts) map[string]string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(c))
	for _, k := range keys {
		out[k] = strings.Join(c[k], ", ")
	}
	return out
}
