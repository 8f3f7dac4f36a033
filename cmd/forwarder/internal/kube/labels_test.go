package kube_test

import (
	"context"
	"maps"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
	"github.com/heraldhq/herald/pkg/event"
)

func ref(gvrKind, apiVersion, namespace, name string) event.ObjectReference {
	return event.ObjectReference{Kind: gvrKind, APIVersion: apiVersion, Namespace: namespace, Name: name}
}

func TestLabelCacheReadsAndCachesLabels(t *testing.T) {
	env := kubetest.Start(t)
	ns := kubetest.FluxNamespace
	name := kubetest.Name(t)
	want := map[string]string{"app": "podinfo", "team": "platform"}
	env.Create(t, kubetest.GitRepository, ns, name, want)

	var log requestLog
	cache := &kube.LabelCache{Client: newClient(t, log.wrap(env.Config)), TTL: time.Hour, Missing: time.Hour, Max: 100}
	ctx := context.Background()
	r := ref("GitRepository", kubetest.APIVersion(kubetest.GitRepository), ns, name)
	got, err := cache.Labels(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("labels = %v, want %v", got, want)
	}
	getPath := "/gitrepositories/" + name
	if n := log.count("GET", getPath); n != 1 {
		t.Fatalf("%d GETs of the object, want 1", n)
	}

	// The object's labels change; within the TTL the cache answers, without
	// asking the API server again.
	patch := []byte(`{"metadata":{"labels":{"team":"apps"}}}`)
	if _, err := env.Dynamic.Resource(kubetest.GitRepository).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		// The UID and resourceVersion differ from event to event: the
		// cache is by kind, namespace and name.
		r2 := r
		r2.UID, r2.ResourceVersion = "other", "42"
		got, err = cache.Labels(ctx, r2)
		if err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(got, want) {
			t.Fatalf("cached labels = %v, want %v", got, want)
		}
	}
	if n := log.count("GET", getPath); n != 1 {
		t.Fatalf("%d GETs of the object after cached lookups, want 1", n)
	}

	// Once the TTL is over, the lookup reads the new labels.
	fresh := &kube.LabelCache{Client: newClient(t, env.Config), TTL: time.Nanosecond, Missing: time.Hour, Max: 100}
	if _, err := fresh.Labels(ctx, r); err != nil {
		t.Fatal(err)
	}
	got, err = fresh.Labels(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"app": "podinfo", "team": "apps"}; !maps.Equal(got, want) {
		t.Fatalf("labels after the TTL = %v, want %v", got, want)
	}
}

func TestLabelCacheKustomization(t *testing.T) {
	env := kubetest.Start(t)
	name := kubetest.Name(t)
	want := map[string]string{"tier": "apps"}
	env.Create(t, kubetest.Kustomization, kubetest.FluxNamespace, name, want)
	cache := &kube.LabelCache{Client: newClient(t, env.Config), TTL: time.Hour, Missing: time.Hour, Max: 100}
	got, err := cache.Labels(context.Background(), ref("Kustomization", kubetest.APIVersion(kubetest.Kustomization), kubetest.FluxNamespace, name))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) {
		t.Fatalf("labels = %v, want %v", got, want)
	}
}

func TestLabelCacheMissingObjectHasNoLabels(t *testing.T) {
	env := kubetest.Start(t)
	ns := kubetest.FluxNamespace
	var log requestLog
	cache := &kube.LabelCache{Client: newClient(t, log.wrap(env.Config)), TTL: time.Hour, Missing: time.Hour, Max: 100}
	ctx := context.Background()
	name := kubetest.Name(t)
	r := ref("GitRepository", kubetest.APIVersion(kubetest.GitRepository), ns, name)

	for _, tc := range []struct {
		name string
		ref  event.ObjectReference
	}{
		{"no such object", r},
		{"kind not served", ref("HelmRelease", "helm.toolkit.fluxcd.io/v2", ns, name)},
		{"version not served", ref("GitRepository", "source.toolkit.fluxcd.io/v1beta1", ns, name)},
		{"malformed apiVersion", ref("GitRepository", "a/b/c", ns, name)},
	} {
		got, err := cache.Labels(ctx, tc.ref)
		if err != nil || got != nil {
			t.Errorf("%s: labels = %v, %v; want none and no error", tc.name, got, err)
		}
	}

	// "Not found" is remembered for Missing: an object created meanwhile
	// is seen once that expires, not at every event before.
	env.Create(t, kubetest.GitRepository, ns, name, map[string]string{"app": "late"})
	if got, err := cache.Labels(ctx, r); err != nil || got != nil {
		t.Fatalf("labels within Missing = %v, %v; want the cached none", got, err)
	}
	if n := log.count("GET", "/gitrepositories/"+name); n != 1 {
		t.Fatalf("%d GETs of the missing object, want 1", n)
	}
	short := &kube.LabelCache{Client: newClient(t, env.Config), TTL: time.Hour, Missing: time.Nanosecond, Max: 100}
	if got, err := short.Labels(ctx, r); err != nil || got["app"] != "late" {
		t.Fatalf("labels = %v, %v; want app=late", got, err)
	}
}

// An API server that cannot be reached is an error, not "no labels" to be
// remembered: the relay logs it and the next event tries again.
func TestLabelCacheUnreachableIsAnError(t *testing.T) {
	cfg := &rest.Config{Host: "http://127.0.0.1:1", Timeout: 5 * time.Second}
	cache := &kube.LabelCache{Client: newClient(t, cfg), TTL: time.Hour, Missing: time.Hour, Max: 100}
	r := ref("GitRepository", kubetest.APIVersion(kubetest.GitRepository), kubetest.FluxNamespace, "podinfo")
	if got, err := cache.Labels(context.Background(), r); err == nil {
		t.Fatalf("labels = %v and no error from an unreachable API server", got)
	}
}
