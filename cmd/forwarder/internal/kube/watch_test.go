package kube_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	eventsv1 "k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/record"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
	"github.com/heraldhq/herald/pkg/event"
)

// kubeEvent is a core/v1 Event about obj as Flux's controllers record it
// through client-go: the Flux event's metadata in the annotations, the
// controller's name as source component and reporting controller.
func kubeEvent(obj *unstructured.Unstructured, typ, reason, message string, annotations map[string]string, at time.Time) *corev1.Event {
	return &corev1.Event{
		ObjectMeta: metav1.ObjectMeta{
			Name:        fmt.Sprintf("%s.%x", obj.GetName(), time.Now().UnixNano()),
			Namespace:   obj.GetNamespace(),
			Annotations: annotations,
		},
		InvolvedObject: corev1.ObjectReference{
			Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: obj.GetUID(),
			APIVersion: obj.GetAPIVersion(), ResourceVersion: obj.GetResourceVersion(),
		},
		Reason:              reason,
		Message:             message,
		Type:                typ,
		Count:               1,
		FirstTimestamp:      metav1.NewTime(at),
		LastTimestamp:       metav1.NewTime(at),
		Source:              corev1.EventSource{Component: "source-controller"},
		ReportingController: "source-controller",
	}
}

// fluxEventOf is the Flux event the controller posted along with ev.
func fluxEventOf(obj *unstructured.Unstructured, severity, reason, message string, metadata map[string]string, at time.Time) event.Event {
	return event.Event{
		InvolvedObject: event.ObjectReference{
			Kind: obj.GetKind(), Namespace: obj.GetNamespace(), Name: obj.GetName(), UID: string(obj.GetUID()),
			APIVersion: obj.GetAPIVersion(), ResourceVersion: obj.GetResourceVersion(),
		},
		Severity:            severity,
		Timestamp:           event.NewTime(at),
		Message:             message,
		Reason:              reason,
		Metadata:            metadata,
		ReportingController: "source-controller",
	}
}

// watch runs w until the test ends and returns what it submits about
// objects in namespace. It returns once the watch has listed the Events
// that existed when it started: Events created after that are news.
func watch(t *testing.T, w *kube.EventWatch, namespace string) <-chan event.Event {
	t.Helper()
	got := make(chan event.Event, 100)
	w.Submit = func(_ context.Context, ev *event.Event) error {
		if ev.InvolvedObject.Namespace == namespace {
			got <- *ev
		}
		return nil
	}
	synced := make(chan struct{})
	w.Synced = func() { close(synced) }
	if w.Logger == nil {
		w.Logger = testLogger(t)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-synced:
	case <-done:
		t.Fatal("the watch stopped before it listed the Events")
	case <-time.After(patience):
		t.Fatalf("the watch did not list the Events within %s", patience)
	}
	return got
}

// next is the next submitted event, failing the test after wait.
func next(t *testing.T, got <-chan event.Event) event.Event {
	t.Helper()
	select {
	case ev := <-got:
		return ev
	case <-time.After(patience):
		t.Fatalf("no event submitted within %s", patience)
		return event.Event{}
	}
}

func assertEvent(t *testing.T, got, want event.Event) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", "  ")
		w, _ := json.MarshalIndent(want, "", "  ")
		t.Fatalf("submitted event:\n%s\nwant:\n%s", g, w)
	}
}

func createEvent(t *testing.T, env *kubetest.Env, e *corev1.Event) *corev1.Event {
	t.Helper()
	got, err := env.Kube.CoreV1().Events(e.Namespace).Create(context.Background(), e, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Event %s: %v", e.Name, err)
	}
	return got
}

func TestEventWatchTurnsEventsIntoFluxEvents(t *testing.T) {
	env := kubetest.Start(t)
	ns := env.Namespace(t)
	repo := env.Create(t, kubetest.GitRepository, ns, "podinfo", map[string]string{"app": "podinfo"})
	// Seconds only: that is all a core/v1 Event's timestamps keep.
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)

	// History: recorded before the forwarder started.
	old := createEvent(t, env, kubeEvent(repo, corev1.EventTypeWarning, "GitOperationFailed", "old failure", nil, at.Add(-time.Hour)))

	got := watch(t, &kube.EventWatch{Client: newClient(t, env.Config), Namespace: ns}, ns)

	meta := map[string]string{
		"source.toolkit.fluxcd.io/revision": "master@sha1:0123456789abcdef0123456789abcdef01234567",
		"source.toolkit.fluxcd.io/token":    "t0k3n",
		"event.toolkit.fluxcd.io/summary":   "podinfo in staging",
	}
	createEvent(t, env, kubeEvent(repo, corev1.EventTypeWarning, "GitOperationFailed", "failed to checkout and determine revision", meta, at))
	// The first event submitted is the new one: the old one, listed
	// when the watch started, is not news.
	assertEvent(t, next(t, got), fluxEventOf(repo, event.SeverityError, "GitOperationFailed", "failed to checkout and determine revision", meta, at))

	createEvent(t, env, kubeEvent(repo, corev1.EventTypeNormal, "NewArtifact", "stored artifact for commit 'Merge pull request #1'", nil, at.Add(time.Second)))
	assertEvent(t, next(t, got), fluxEventOf(repo, event.SeverityInfo, "NewArtifact", "stored artifact for commit 'Merge pull request #1'", nil, at.Add(time.Second)))

	// Events of objects that are not Flux's are not Flux events; a
	// later Flux event shows they were passed over.
	cm, err := env.Kube.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	createEvent(t, env, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "settings.1", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "ConfigMap", APIVersion: "v1", Namespace: ns, Name: cm.Name, UID: cm.UID},
		Reason:         "Updated", Message: "not Flux", Type: corev1.EventTypeNormal, Count: 1,
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at),
		Source: corev1.EventSource{Component: "someone"},
	})

	// The old event happens again: client-go's recorder bumps its count
	// and last timestamp. That occurrence is news.
	again := at.Add(2 * time.Second)
	old.Count = 2
	old.LastTimestamp = metav1.NewTime(again)
	if _, err := env.Kube.CoreV1().Events(ns).Update(context.Background(), old, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	assertEvent(t, next(t, got), fluxEventOf(repo, event.SeverityError, "GitOperationFailed", "old failure", nil, again))

	select {
	case ev := <-got:
		t.Fatalf("unexpected event submitted: %+v", ev)
	default:
	}
}

// A Kubernetes Event without involvedObject.namespace, in the namespace of
// the object, takes its namespace from the Event.
func TestFluxEventNamespaceFromEvent(t *testing.T) {
	e := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Namespace: "apps"},
		InvolvedObject: corev1.ObjectReference{Kind: "Kustomization", APIVersion: "kustomize.toolkit.fluxcd.io/v1", Name: "podinfo"},
		Type:           corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "kustomize-controller"},
	}
	ev, ok := kube.FluxEvent(e)
	if !ok || ev.InvolvedObject.Namespace != "apps" || ev.ReportingController != "kustomize-controller" || ev.Severity != event.SeverityInfo {
		t.Fatalf("FluxEvent = %+v, %v", ev, ok)
	}
	for _, apiVersion := range []string{"v1", "apps/v1", "", "toolkit.fluxcd.io.example.com/v1", "a/b/c"} {
		e.InvolvedObject.APIVersion = apiVersion
		if _, ok := kube.FluxEvent(e); ok {
			t.Errorf("apiVersion %q taken for a Flux kind", apiVersion)
		}
	}
}

// Flux's controllers record Events through client-go's recorder, which
// puts the event metadata in annotations and, when an event repeats, bumps
// the count of the Event it already wrote. Both occurrences are submitted.
func TestEventWatchTakesClientGoRecorderEvents(t *testing.T) {
	env := kubetest.Start(t)
	ns := env.Namespace(t)
	ks := env.Create(t, kubetest.Kustomization, ns, "apps", nil)
	got := watch(t, &kube.EventWatch{Client: newClient(t, env.Config)}, ns)

	broadcaster := record.NewBroadcaster()
	t.Cleanup(broadcaster.Shutdown)
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: env.Kube.CoreV1().Events("")})
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "kustomize-controller"})
	meta := map[string]string{
		"kustomize.toolkit.fluxcd.io/revision": "main@sha1:4f6b2c1e8e9d0a7b3c5d6e7f8a9b0c1d2e3f4a5b",
		"kustomize.toolkit.fluxcd.io/token":    "abc",
	}
	for i := 1; i <= 2; i++ {
		before := time.Now().UTC().Truncate(time.Second)
		recorder.AnnotatedEventf(ks, meta, corev1.EventTypeWarning, "HealthCheckFailed", "health check failed after %s", "30s")
		ev := next(t, got)
		if ev.Timestamp.Before(before) || ev.Timestamp.After(time.Now().Add(time.Second)) {
			t.Errorf("occurrence %d: timestamp %s, recorded after %s", i, ev.Timestamp, before)
		}
		want := fluxEventOf(ks, event.SeverityError, "HealthCheckFailed", "health check failed after 30s", meta, ev.Timestamp.Time)
		want.ReportingController = "kustomize-controller"
		assertEvent(t, ev, want)
	}
}

// Flux's newer recorders can write Events through events.k8s.io/v1, which
// gives them an action and a related object: the watch forwards those as a
// v1 Flux event with action and relatedObject.
func TestEventWatchTakesEventsV1ActionAndRelated(t *testing.T) {
	env := kubetest.Start(t)
	ns := env.Namespace(t)
	ks := env.Create(t, kubetest.Kustomization, ns, "apps", nil)
	repo := env.Create(t, kubetest.GitRepository, ns, "apps", nil)
	got := watch(t, &kube.EventWatch{Client: newClient(t, env.Config)}, ns)

	broadcaster := eventsv1.NewBroadcaster(&eventsv1.EventSinkImpl{Interface: env.Kube.EventsV1()})
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); broadcaster.Shutdown() })
	broadcaster.StartRecordingToSink(stop)
	recorder := broadcaster.NewRecorder(scheme.Scheme, "kustomize-controller")
	before := time.Now().UTC().Truncate(time.Second)
	recorder.Eventf(ks, repo, corev1.EventTypeNormal, "ReconciliationSucceeded", "Reconciled", "Reconciliation finished in %s", "1.2s")

	ev := next(t, got)
	if ev.Timestamp.Before(before) {
		t.Errorf("timestamp %s, recorded after %s", ev.Timestamp, before)
	}
	want := fluxEventOf(ks, event.SeverityInfo, "ReconciliationSucceeded", "Reconciliation finished in 1.2s", nil, ev.Timestamp.Time)
	want.ReportingController = "kustomize-controller"
	want.Action = event.NewAction("Reconciled")
	want.RelatedObject = &event.ObjectReference{
		Kind: repo.GetKind(), Namespace: repo.GetNamespace(), Name: repo.GetName(), UID: string(repo.GetUID()),
		APIVersion: repo.GetAPIVersion(), ResourceVersion: repo.GetResourceVersion(),
	}
	assertEvent(t, ev, want)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(body, &keys); err != nil || string(keys["action"]) != `"Reconciled"` || keys["relatedObject"] == nil {
		t.Errorf("forwarded body %s lacks the v1 fields", body)
	}
}
