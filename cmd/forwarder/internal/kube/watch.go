package kube

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/heraldhq/herald/pkg/event"
)

// Submit takes a Flux event made from a Kubernetes Event.
type Submit func(ctx context.Context, ev *event.Event) error

// EventWatch turns Kubernetes Events of Flux objects into the Flux events
// their controller posted, for clusters where the controllers' --events-addr
// cannot point at the forwarder. Events listed when the watch starts are
// history, not news, and are not forwarded.
type EventWatch struct {
	Client *Client
	// Namespace limits the watch; empty means every namespace.
	Namespace string
	Submit    Submit
	Logger    *slog.Logger
	// Synced, when set, is called once the Events that existed when the
	// watch started have been listed (and passed over): from then on,
	// every new Event is submitted.
	Synced func()
}

// Run watches until ctx is cancelled.
func (w *EventWatch) Run(ctx context.Context) {
	lw := cache.NewListWatchFromClient(w.Client.Core.RESTClient(), "events", w.Namespace, fields.Everything())
	inf := cache.NewSharedIndexInformer(lw, &corev1.Event{}, 0, cache.Indexers{})
	// The informer keeps every Event of the cluster in memory; their
	// managedFields are a good part of each and are never read here.
	_ = inf.SetTransform(func(obj any) (any, error) {
		if e, ok := obj.(*corev1.Event); ok {
			e.ManagedFields = nil
		}
		return obj, nil
	})
	reg, err := inf.AddEventHandler(cache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, isInInitialList bool) {
			if isInInitialList {
				return
			}
			if e, ok := obj.(*corev1.Event); ok {
				w.forward(ctx, e)
			}
		},
		// A repeat of an event bumps the count of the existing object.
		UpdateFunc: func(oldObj, newObj any) {
			o, ok1 := oldObj.(*corev1.Event)
			n, ok2 := newObj.(*corev1.Event)
			if ok1 && ok2 && occurrences(n) > occurrences(o) {
				w.forward(ctx, n)
			}
		},
	})
	if err != nil {
		// Only a stopped informer refuses a handler, and this one has not
		// started.
		w.Logger.Error("the Event watch cannot start", "error", err.Error())
		return
	}
	var synced sync.WaitGroup
	if w.Synced != nil {
		synced.Go(func() {
			if cache.WaitForCacheSync(ctx.Done(), reg.HasSynced) {
				w.Synced()
			}
		})
	}
	inf.Run(ctx.Done())
	synced.Wait()
}

func occurrences(e *corev1.Event) int32 {
	if e.Series != nil {
		return e.Series.Count
	}
	return e.Count
}

func (w *EventWatch) forward(ctx context.Context, e *corev1.Event) {
	ev, ok := FluxEvent(e)
	if !ok {
		return
	}
	if err := w.Submit(ctx, &ev); err != nil {
		w.Logger.Error("buffering a watched event failed", "event", e.Namespace+"/"+e.Name, "error", err.Error())
	}
}

// FluxEvent is the Flux event a controller posted along with the Kubernetes
// Event e: Flux's recorder writes the event's metadata as the Kubernetes
// Event's annotations. ok is false for Events of objects that are not Flux's.
func FluxEvent(e *corev1.Event) (ev event.Event, ok bool) {
	gv, err := schema.ParseGroupVersion(e.InvolvedObject.APIVersion)
	if err != nil || !isFluxGroup(gv.Group) {
		return event.Event{}, false
	}
	o := e.InvolvedObject
	ev = event.Event{
		InvolvedObject: event.ObjectReference{
			Kind: o.Kind, Namespace: o.Namespace, Name: o.Name, UID: string(o.UID),
			APIVersion: o.APIVersion, ResourceVersion: o.ResourceVersion, FieldPath: o.FieldPath,
		},
		Severity:            event.SeverityInfo,
		Timestamp:           event.NewTime(eventTime(e)),
		Message:             e.Message,
		Reason:              e.Reason,
		Metadata:            maps.Clone(e.Annotations),
		ReportingController: e.ReportingController,
	}
	if e.Type == corev1.EventTypeWarning {
		ev.Severity = event.SeverityError
	}
	if ev.ReportingController == "" {
		ev.ReportingController = e.Source.Component
	}
	if ev.InvolvedObject.Namespace == "" {
		ev.InvolvedObject.Namespace = e.Namespace
	}
	// An Event written through events.k8s.io/v1 (the backend Flux's newer
	// recorders can use) has an action and may have a related object: the
	// fields of a v1 Flux event. Without either it stays a v1beta1 event.
	if e.Action != "" || e.Related != nil {
		ev.Action = event.NewAction(e.Action)
	}
	if r := e.Related; r != nil {
		ev.RelatedObject = &event.ObjectReference{
			Kind: r.Kind, Namespace: r.Namespace, Name: r.Name, UID: string(r.UID),
			APIVersion: r.APIVersion, ResourceVersion: r.ResourceVersion, FieldPath: r.FieldPath,
		}
	}
	return ev, true
}

// eventTime is when the event last happened.
func eventTime(e *corev1.Event) time.Time {
	switch {
	case e.Series != nil && !e.Series.LastObservedTime.IsZero():
		return e.Series.LastObservedTime.Time
	case !e.LastTimestamp.IsZero():
		return e.LastTimestamp.Time
	case !e.EventTime.IsZero():
		return e.EventTime.Time
	default:
		return e.FirstTimestamp.Time
	}
}
