package kube_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
)

func requestedAt(obj *unstructured.Unstructured) string {
	if obj == nil {
		return ""
	}
	return obj.GetAnnotations()[kube.RequestedAtAnnotation]
}

func TestAnnotateNamedObject(t *testing.T) {
	env := kubetest.Start(t)
	ns := kubetest.FluxNamespace
	name := kubetest.Name(t)
	repo := env.Create(t, kubetest.GitRepository, ns, name, nil)
	// An annotation the user set must survive: a merge patch touches only
	// the key it names.
	repo.SetAnnotations(map[string]string{"owner": "team-a"})
	if _, err := env.Dynamic.Resource(kubetest.GitRepository).Namespace(ns).Update(context.Background(), repo, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	var log requestLog
	kc := newClient(t, log.wrap(env.Config))
	target := kube.Target{APIVersion: kubetest.APIVersion(kubetest.GitRepository), Kind: "GitRepository", Namespace: ns, Name: name}

	for _, value := range []string{"2026-11-22 03:00:16.218596277 +0000 UTC", "2026-11-22 03:05:00 +0000 UTC"} {
		n, err := kc.Annotate(context.Background(), target, value)
		if err != nil || n != 1 {
			t.Fatalf("Annotate = %d, %v; want 1 object", n, err)
		}
		got := env.Get(t, kubetest.GitRepository, ns, name)
		if requestedAt(got) != value {
			t.Fatalf("requestedAt = %q, want %q", requestedAt(got), value)
		}
		if got.GetAnnotations()["owner"] != "team-a" {
			t.Fatalf("annotations = %v: the patch removed the user's annotation", got.GetAnnotations())
		}
		if spec, _, _ := unstructured.NestedString(got.Object, "spec", "url"); spec == "" {
			t.Fatalf("the patch lost the spec: %v", got.Object)
		}
	}
	if n := log.count("PATCH", "/gitrepositories/"+name); n != 2 {
		t.Fatalf("%d PATCHes, want 2", n)
	}

	// matchLabels means nothing with a name, as in Flux.
	target.MatchLabels = map[string]string{"no": "match"}
	if n, err := kc.Annotate(context.Background(), target, "third"); err != nil || n != 1 || requestedAt(env.Get(t, kubetest.GitRepository, ns, name)) != "third" {
		t.Fatalf("Annotate with a name and matchLabels = %d, %v", n, err)
	}
}

func TestAnnotateWildcardPatchesTheMatchingObjects(t *testing.T) {
	env := kubetest.Start(t)
	ns := env.Namespace(t)
	other := env.Namespace(t)
	sel := map[string]string{"app": "podinfo", "env": "staging"}
	for _, o := range []struct {
		ns, name string
		labels   map[string]string
	}{
		{ns, "match-a", sel},
		{ns, "match-b", map[string]string{"app": "podinfo", "env": "staging", "extra": "yes"}},
		{ns, "other-env", map[string]string{"app": "podinfo", "env": "production"}},
		{ns, "no-labels", nil},
		{other, "match-elsewhere", sel},
	} {
		env.Create(t, kubetest.GitRepository, o.ns, o.name, o.labels)
	}
	// Same labels, another kind: not selected.
	env.Create(t, kubetest.Kustomization, ns, "match-a", sel)

	kc := newClient(t, env.Config)
	target := kube.Target{APIVersion: kubetest.APIVersion(kubetest.GitRepository), Kind: "GitRepository", Namespace: ns, Name: "*", MatchLabels: sel}
	n, err := kc.Annotate(context.Background(), target, "now")
	if err != nil || n != 2 {
		t.Fatalf("Annotate = %d, %v; want 2 objects", n, err)
	}
	var patched []string
	for _, o := range []struct {
		ns   string
		gvr  string
		name string
	}{
		{ns, "git", "match-a"}, {ns, "git", "match-b"}, {ns, "git", "other-env"}, {ns, "git", "no-labels"},
		{other, "git", "match-elsewhere"}, {ns, "ks", "match-a"},
	} {
		gvr := kubetest.GitRepository
		if o.gvr == "ks" {
			gvr = kubetest.Kustomization
		}
		if requestedAt(env.Get(t, gvr, o.ns, o.name)) == "now" {
			patched = append(patched, o.ns+"/"+o.gvr+"/"+o.name)
		}
	}
	if want := []string{ns + "/git/match-a", ns + "/git/match-b"}; !slices.Equal(patched, want) {
		t.Fatalf("patched %v, want exactly %v", patched, want)
	}

	// No match is not an error, and nothing to retry.
	target.MatchLabels = map[string]string{"app": "absent"}
	if n, err := kc.Annotate(context.Background(), target, "later"); err != nil || n != 0 {
		t.Fatalf("Annotate with no match = %d, %v; want 0 and no error", n, err)
	}
}

func TestAnnotateMissingObjectOrKind(t *testing.T) {
	env := kubetest.Start(t)
	kc := newClient(t, env.Config)
	ns := kubetest.FluxNamespace

	// A missing object: nothing patched, no error, so the poller logs it
	// and moves past the request instead of retrying it forever.
	missing := kube.Target{APIVersion: kubetest.APIVersion(kubetest.GitRepository), Kind: "GitRepository", Namespace: ns, Name: kubetest.Name(t)}
	if n, err := kc.Annotate(context.Background(), missing, "now"); err != nil || n != 0 {
		t.Fatalf("Annotate of a missing object = %d, %v; want 0 and no error", n, err)
	}
	if got := env.Get(t, kubetest.GitRepository, ns, missing.Name); got != nil {
		t.Fatalf("the patch created the object: %v", got.Object)
	}

	// A kind the API server does not serve is a permanent failure.
	for _, target := range []kube.Target{
		{APIVersion: "helm.toolkit.fluxcd.io/v2", Kind: "HelmRelease", Namespace: ns, Name: "podinfo"},
		{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "Bucket", Namespace: ns, Name: "*", MatchLabels: map[string]string{"a": "b"}},
		{APIVersion: "a/b/c", Kind: "GitRepository", Namespace: ns, Name: "podinfo"},
	} {
		if n, err := kc.Annotate(context.Background(), target, "now"); !errors.Is(err, kube.ErrPermanent) || n != 0 {
			t.Errorf("Annotate %s %s = %d, %v; want a permanent error", target.APIVersion, target.Kind, n, err)
		}
	}
}
