// Package relay is where Flux controllers post their events: it accepts
// what Flux's event server accepts (any path and method, 3 MiB, JSON), adds
// the involved object's labels, writes the event to the durable buffer and
// answers 202 once it is on disk.
package relay

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/heraldhq/herald/cmd/forwarder/internal/buffer"
	"github.com/heraldhq/herald/cmd/forwarder/internal/metrics"
	"github.com/heraldhq/herald/pkg/event"
)

// MaxEventBytes is the body limit of Flux's event server (3 MiB).
const MaxEventBytes = 3 << 20

// appendTimeout keeps the answer within the 5 s timeout of Flux's
// recorder, which would otherwise retry an event that may have landed.
const appendTimeout = 4 * time.Second

// labelTimeout bounds the label lookup; without labels the event is still
// forwarded, and only matchLabels Alerts miss it, as in Flux when its own
// lookup fails.
const labelTimeout = time.Second

// Labels looks up the labels of an involved object.
type Labels interface {
	Labels(ctx context.Context, ref event.ObjectReference) (map[string]string, error)
}

// Relay turns events into buffered records. It serves the HTTP relay and
// takes the events of the Kubernetes Event watch.
type Relay struct {
	Buffer *buffer.Buffer
	// Labels is nil without an API server (--no-kube).
	Labels Labels
	// Recent, when set, drops an event seen shortly before from the other
	// source (relay or watch).
	Recent  *Recent
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// Submit buffers ev, whose body as received is raw (nil for the watch),
// and returns once it is on disk. source is "relay" or "watch".
func (r *Relay) Submit(ctx context.Context, ev *event.Event, raw []byte, source string) error {
	r.Metrics.Received(source)
	now := r.now()
	if r.Recent != nil {
		key := ev.DedupKey()
		if !r.Recent.FirstSighting(key, now) {
			r.Metrics.Dropped(metrics.DropDuplicate)
			r.Logger.Debug("event already forwarded from the other source", "source", source, "object", objectKey(ev))
			return nil
		}
		err := r.buffer(ctx, ev, raw, now)
		if err != nil {
			r.Recent.Forget(key, now)
		}
		return err
	}
	return r.buffer(ctx, ev, raw, now)
}

// buffer adds the labels and appends the event. With an API server, the
// labels come from it alone, as in Flux: labels a poster put in the body
// are replaced, or removed when the lookup finds none or fails, so that no
// event can claim labels its object does not have. Without one
// (--no-kube), the body's own labels pass through.
func (r *Relay) buffer(ctx context.Context, ev *event.Event, raw []byte, now time.Time) error {
	labels := ev.ObjectLabels
	if r.Labels != nil {
		lctx, cancel := context.WithTimeout(ctx, labelTimeout)
		got, err := r.Labels.Labels(lctx, ev.InvolvedObject)
		cancel()
		labels = got
		if err != nil {
			labels = nil
			r.Logger.Warn("looking up the involved object's labels failed; forwarding without them", "object", objectKey(ev), "error", err.Error())
		}
	}
	body, err := bodyWithLabels(ev, raw, labels)
	if err != nil {
		return err
	}
	actx, cancel := context.WithTimeout(ctx, appendTimeout)
	defer cancel()
	return r.Buffer.Append(actx, objectKey(ev), body, now)
}

// labelsKey is the body's field for the involved object's labels.
const labelsKey = "involvedObjectLabels"

// bodyWithLabels is the body to send: the event as Flux posted it, with the
// labels under "involvedObjectLabels", or without that field when there
// are none. Keys Herald does not know are kept, so newer event fields pass
// through unchanged.
func bodyWithLabels(ev *event.Event, raw []byte, labels map[string]string) ([]byte, error) {
	if raw == nil {
		ev.ObjectLabels = labels
		return event.MarshalWithLabels(*ev)
	}
	if len(labels) == 0 && len(ev.ObjectLabels) == 0 {
		return raw, nil // Flux's own posts: no labels in, none to add
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil {
		return nil, err
	}
	if len(labels) == 0 {
		delete(fields, labelsKey)
		return json.Marshal(fields)
	}
	l, err := json.Marshal(labels)
	if err != nil {
		return nil, err
	}
	fields[labelsKey] = l
	return json.Marshal(fields)
}

func (r *Relay) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// objectKey orders records: events of one object are sent in order.
func objectKey(ev *event.Event) string {
	o := ev.InvolvedObject
	return o.Kind + "/" + o.Namespace + "/" + o.Name
}

// ServeHTTP accepts a Flux event on any path and method.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.ContentLength > MaxEventBytes {
		writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds 3 MiB")
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, req.Body, MaxEventBytes))
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			writeError(w, http.StatusRequestEntityTooLarge, "request body exceeds 3 MiB")
			return
		}
		writeError(w, http.StatusBadRequest, "reading the request body failed")
		return
	}
	ev, err := event.Decode(raw)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := ev.Validate(); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := r.Submit(req.Context(), &ev, raw, "relay"); err != nil {
		r.Logger.Error("buffering an event failed", "object", objectKey(&ev), "error", err.Error())
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "the event buffer is unavailable, retry later")
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
