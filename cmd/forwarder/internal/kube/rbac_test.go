package kube_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes"

	"github.com/heraldhq/herald/cmd/forwarder/internal/kube"
	"github.com/heraldhq/herald/cmd/forwarder/internal/kubetest"
	"github.com/heraldhq/herald/pkg/event"
)

// The forwarder's identity in the cluster, as deploy/forwarder names it.
const (
	saNamespace = "flux-system"
	saName      = "herald-forwarder"
)

// manifests are the YAML files of deploy/forwarder in this repository;
// rbac.yaml and serviceaccount.yaml among them hold what the test applies.
func manifests(t *testing.T) []string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("no caller information")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "deploy", "forwarder")
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || !slices.Contains(paths, filepath.Join(dir, "rbac.yaml")) {
		t.Fatalf("no %s: %v", filepath.Join(dir, "rbac.yaml"), err)
	}
	return paths
}

// applyRBAC creates the ServiceAccounts, ClusterRoles, Roles and their
// bindings that paths hold, and checks that the forwarder's ServiceAccount,
// ClusterRole and ClusterRoleBinding are among them. Objects without a
// namespace get flux-system, as the kustomization that deploys them sets it.
func applyRBAC(t *testing.T, env *kubetest.Env, paths []string) {
	t.Helper()
	applied := map[string]bool{}
	for _, path := range paths {
		applyRBACFile(t, env, path, applied)
	}
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} {
		if !applied[kind+"/"+saName] {
			t.Fatalf("deploy/forwarder has no %s %s", kind, saName)
		}
	}
	if _, err := env.Kube.CoreV1().ServiceAccounts(saNamespace).Get(context.Background(), saName, metav1.GetOptions{}); err != nil {
		t.Fatalf("deploy/forwarder does not create ServiceAccount %s/%s: %v", saNamespace, saName, err)
	}
}

func applyRBACFile(t *testing.T, env *kubetest.Env, path string, applied map[string]bool) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading the forwarder's manifests: %v", err)
	}
	ctx := context.Background()
	dec := yaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		if u.GetNamespace() == "" {
			u.SetNamespace(saNamespace)
		}
		// Typed, to default the namespaces of ServiceAccount subjects;
		// then applied server-side, so that a second run of the test
		// (-count) applies the same objects again.
		var obj any
		gvr := rbacv1.SchemeGroupVersion.WithResource("")
		switch u.GetKind() {
		case "ServiceAccount":
			obj, gvr = &corev1.ServiceAccount{}, corev1.SchemeGroupVersion.WithResource("serviceaccounts")
		case "ClusterRole":
			obj, gvr.Resource = &rbacv1.ClusterRole{}, "clusterroles"
		case "ClusterRoleBinding":
			obj, gvr.Resource = &rbacv1.ClusterRoleBinding{}, "clusterrolebindings"
		case "Role":
			obj, gvr.Resource = &rbacv1.Role{}, "roles"
		case "RoleBinding":
			obj, gvr.Resource = &rbacv1.RoleBinding{}, "rolebindings"
		default:
			// The Deployment, the Service, the kustomization itself.
			continue
		}
		if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(u.Object, obj); err != nil {
			t.Fatalf("%s: %s %s: %v", path, u.GetKind(), u.GetName(), err)
		}
		switch o := obj.(type) {
		case *rbacv1.ClusterRoleBinding:
			defaultSubjectNamespaces(o.Subjects)
		case *rbacv1.RoleBinding:
			defaultSubjectNamespaces(o.Subjects)
		}
		content, err := k8sruntime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			t.Fatal(err)
		}
		u.Object = content
		res := env.Dynamic.Resource(gvr)
		opts := metav1.ApplyOptions{FieldManager: "kubetest", Force: true}
		if u.GetKind() == "ClusterRole" || u.GetKind() == "ClusterRoleBinding" {
			u.SetNamespace("")
			_, err = res.Apply(ctx, u.GetName(), &u, opts)
		} else {
			_, err = res.Namespace(u.GetNamespace()).Apply(ctx, u.GetName(), &u, opts)
		}
		if err != nil {
			t.Fatalf("applying %s %s from %s: %v", u.GetKind(), u.GetName(), path, err)
		}
		applied[u.GetKind()+"/"+u.GetName()] = true
	}
}

func defaultSubjectNamespaces(subjects []rbacv1.Subject) {
	for i := range subjects {
		if subjects[i].Kind == rbacv1.ServiceAccountKind && subjects[i].Namespace == "" {
			subjects[i].Namespace = saNamespace
		}
	}
}

// allowed asks the API server whether the ServiceAccount may do verb on
// the resource.
func allowed(t *testing.T, env *kubetest.Env, verb, group, resource, namespace string) bool {
	t.Helper()
	sar := &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
		User:   kubetest.ServiceAccountUser(saNamespace, saName),
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + saNamespace, "system:authenticated"},
		ResourceAttributes: &authzv1.ResourceAttributes{
			Verb: verb, Group: group, Resource: resource, Namespace: namespace,
		},
	}}
	got, err := env.Kube.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), sar, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return got.Status.Allowed
}

func TestRBACIsEnoughForTheForwarder(t *testing.T) {
	env := kubetest.Start(t)
	applyRBAC(t, env, manifests(t))
	ctx := context.Background()
	ns := env.Namespace(t)

	// The API server's RBAC authorizer learns of new bindings through its
	// informers: wait until it grants the last permission the role gives.
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, patience, true, func(context.Context) (bool, error) {
		return allowed(t, env, "watch", "", "events", ""), nil
	})
	if err != nil {
		t.Fatalf("the ServiceAccount may not watch Events in every namespace within %s: %v", patience, err)
	}
	// What the forwarder needs, in every namespace, for the Flux kinds the
	// test cluster serves.
	for _, p := range []struct{ verb, group, resource string }{
		{"get", "source.toolkit.fluxcd.io", "gitrepositories"},
		{"list", "source.toolkit.fluxcd.io", "gitrepositories"},
		{"patch", "source.toolkit.fluxcd.io", "gitrepositories"},
		{"get", "kustomize.toolkit.fluxcd.io", "kustomizations"},
		{"patch", "kustomize.toolkit.fluxcd.io", "kustomizations"},
		{"list", "", "events"},
		{"watch", "", "events"},
	} {
		if !allowed(t, env, p.verb, p.group, p.resource, ns) {
			t.Errorf("the ServiceAccount may not %s %s.%s", p.verb, p.resource, p.group)
		}
	}
	// And no more than it needs.
	for _, p := range []struct{ verb, group, resource string }{
		{"get", "", "secrets"},
		{"patch", "", "secrets"},
		{"patch", "", "configmaps"},
		{"create", "source.toolkit.fluxcd.io", "gitrepositories"},
		{"update", "source.toolkit.fluxcd.io", "gitrepositories"},
		{"delete", "source.toolkit.fluxcd.io", "gitrepositories"},
		{"patch", "source.toolkit.fluxcd.io", "gitrepositories/status"},
		{"create", "", "events"},
		{"delete", "", "events"},
	} {
		if allowed(t, env, p.verb, p.group, p.resource, ns) {
			t.Errorf("the ServiceAccount may %s %s.%s; the forwarder does not need to", p.verb, p.resource, p.group)
		}
	}

	sa := env.Impersonate(saNamespace, saName)
	kc := newClient(t, sa)
	if err := kc.Reachable(ctx); err != nil {
		t.Fatalf("readiness check as the ServiceAccount: %v", err)
	}

	// Labels.
	labels := map[string]string{"app": "podinfo", "env": "staging"}
	repo := env.Create(t, kubetest.GitRepository, ns, "podinfo", labels)
	env.Create(t, kubetest.GitRepository, ns, "other", map[string]string{"app": "other"})
	cache := &kube.LabelCache{Client: kc, TTL: time.Hour, Missing: time.Hour, Max: 100}
	got, err := cache.Labels(ctx, event.ObjectReference{Kind: "GitRepository", APIVersion: repo.GetAPIVersion(), Namespace: ns, Name: "podinfo"})
	if err != nil || !maps.Equal(got, labels) {
		t.Fatalf("labels read as the ServiceAccount = %v, %v; want %v", got, err, labels)
	}

	// The Event watch, over every namespace as the forwarder runs it.
	events := watch(t, &kube.EventWatch{Client: kc}, ns)
	at := time.Now().UTC().Truncate(time.Second)
	createEvent(t, env, kubeEvent(repo, corev1.EventTypeWarning, "GitOperationFailed", "auth failed", nil, at))
	assertEvent(t, next(t, events), fluxEventOf(repo, event.SeverityError, "GitOperationFailed", "auth failed", nil, at))

	// Reconcile requests, by name and by labels.
	gitRepo := kube.Target{APIVersion: repo.GetAPIVersion(), Kind: "GitRepository", Namespace: ns, Name: "podinfo"}
	if n, err := kc.Annotate(ctx, gitRepo, "by-name"); err != nil || n != 1 {
		t.Fatalf("Annotate by name as the ServiceAccount = %d, %v", n, err)
	}
	if v := requestedAt(env.Get(t, kubetest.GitRepository, ns, "podinfo")); v != "by-name" {
		t.Fatalf("requestedAt = %q after the patch by name", v)
	}
	gitRepo.Name, gitRepo.MatchLabels = "*", map[string]string{"app": "podinfo"}
	if n, err := kc.Annotate(ctx, gitRepo, "by-labels"); err != nil || n != 1 {
		t.Fatalf("Annotate by labels as the ServiceAccount = %d, %v", n, err)
	}
	if v := requestedAt(env.Get(t, kubetest.GitRepository, ns, "podinfo")); v != "by-labels" {
		t.Fatalf("requestedAt = %q after the patch by labels", v)
	}
	ks := env.Create(t, kubetest.Kustomization, ns, "apps", nil)
	if n, err := kc.Annotate(ctx, kube.Target{APIVersion: ks.GetAPIVersion(), Kind: "Kustomization", Namespace: ns, Name: "apps"}, "ks"); err != nil || n != 1 {
		t.Fatalf("Annotate a Kustomization as the ServiceAccount = %d, %v", n, err)
	}

	// Outside the role: a ConfigMap or a Secret cannot be patched, and the
	// refusal is final, not retried.
	cm, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "settings"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := kc.Annotate(ctx, kube.Target{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: cm.Name}, "no"); !errors.Is(err, kube.ErrPermanent) || n != 0 {
		t.Fatalf("Annotate of a ConfigMap as the ServiceAccount = %d, %v; want a permanent error", n, err)
	}
	if _, err := env.Kube.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	saKube, err := kubernetes.NewForConfig(sa)
	if err != nil {
		t.Fatal(err)
	}
	patch := []byte(`{"metadata":{"annotations":{"` + kube.RequestedAtAnnotation + `":"no"}}}`)
	if _, err := saKube.CoreV1().Secrets(ns).Patch(ctx, "token", types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("patching a Secret as the ServiceAccount: %v, want forbidden", err)
	}
	if _, err := saKube.CoreV1().ConfigMaps(ns).Patch(ctx, cm.Name, types.MergePatchType, patch, metav1.PatchOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("patching a ConfigMap as the ServiceAccount: %v, want forbidden", err)
	}
	if _, err := saKube.CoreV1().Secrets(ns).Get(ctx, "token", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Fatalf("reading a Secret as the ServiceAccount: %v, want forbidden", err)
	}
	got2, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, cm.Name, metav1.GetOptions{})
	if err != nil || got2.Annotations[kube.RequestedAtAnnotation] != "" {
		t.Fatalf("the ConfigMap was changed: %v, %v", got2.Annotations, err)
	}
}
