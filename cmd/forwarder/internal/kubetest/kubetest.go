// Package kubetest runs the forwarder's tests against a real Kubernetes API
// server: kube-apiserver and etcd under controller-runtime's envtest, with
// minimal Flux CRDs for GitRepository and Kustomization and the flux-system
// namespace. One API server serves every test of a test binary; it starts
// on the first test that asks for it, and Main stops it.
//
// The binaries come from KUBEBUILDER_ASSETS, or else from the folder
// .ci/install-kube-apiserver fills ($HERALD_CACHE or ~/.cache/herald, then
// envtest-1.36.3). Without either the tests fail and say to run that
// script: CI installs it, so a missing API server is a broken setup, not a
// reason to pass. HERALD_SKIP_KUBE=1 skips these tests on purpose, for a
// quick run on a machine without the binaries.
package kubetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
)

// SkipEnv is the environment variable that, set to 1, skips the tests that
// need an API server.
const SkipEnv = "HERALD_SKIP_KUBE"

// Version is the Kubernetes release .ci/install-kube-apiserver builds.
const Version = "1.36.3"

// FluxNamespace is created when the API server starts.
const FluxNamespace = "flux-system"

// The Flux kinds the CRDs serve.
var (
	GitRepository = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	Kustomization = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
)

// Env is the running API server and admin clients for it.
type Env struct {
	// Config authenticates as a member of system:masters.
	Config *rest.Config
	// KubeConfig is Config as a kubeconfig file's content.
	KubeConfig []byte
	Kube       kubernetes.Interface
	Dynamic    dynamic.Interface
}

var (
	once     sync.Once
	shared   *Env
	env      *envtest.Environment
	startErr error
	stopped  atomic.Bool
)

// Main runs a package's tests, then stops the API server if a test started
// it. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	if err := stop(); err != nil {
		fmt.Fprintln(os.Stderr, "kubetest: stopping the API server:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// Start returns the shared API server, starting it on first use. It skips
// the test when HERALD_SKIP_KUBE=1, and fails it when the server cannot
// start. The package's TestMain must call Main, which stops the server.
func Start(t testing.TB) *Env {
	t.Helper()
	if os.Getenv(SkipEnv) == "1" {
		t.Skipf("%s=1: skipping a test that needs a Kubernetes API server", SkipEnv)
	}
	if stopped.Load() {
		t.Fatal("kubetest: the API server was already stopped")
	}
	once.Do(func() { shared, startErr = start() })
	if startErr != nil {
		t.Fatal(startErr)
	}
	return shared
}

// AssetsDir is the folder holding kube-apiserver and etcd.
func AssetsDir() (string, error) {
	const hint = "run .ci/install-kube-apiserver (about 7 minutes the first time) and set KUBEBUILDER_ASSETS to the folder it prints, " +
		"or set " + SkipEnv + "=1 to skip the tests that need a Kubernetes API server"
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		if !isFile(filepath.Join(dir, "kube-apiserver")) {
			return "", fmt.Errorf("KUBEBUILDER_ASSETS=%s holds no kube-apiserver: %s", dir, hint)
		}
		return dir, nil
	}
	cache := os.Getenv("HERALD_CACHE")
	if cache == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no KUBEBUILDER_ASSETS and no home folder (%v): %s", err, hint)
		}
		cache = filepath.Join(home, ".cache", "herald")
	}
	dir := filepath.Join(cache, "envtest-"+Version)
	if !isFile(filepath.Join(dir, "kube-apiserver")) {
		return "", fmt.Errorf("no Kubernetes API server: KUBEBUILDER_ASSETS is not set and %s holds no kube-apiserver: %s", dir, hint)
	}
	return dir, nil
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func start() (*Env, error) {
	dir, err := AssetsDir()
	if err != nil {
		return nil, err
	}
	// envtest logs through controller-runtime, which otherwise complains,
	// with a stack trace, that no logger was set.
	ctrllog.SetLogger(logr.Discard())
	etcd := filepath.Join(dir, "etcd")
	if !isFile(etcd) {
		etcd = "/usr/bin/etcd"
	}
	e := &envtest.Environment{
		CRDs: []*apiextensionsv1.CustomResourceDefinition{
			fluxCRD(GitRepository, "GitRepository"),
			fluxCRD(Kustomization, "Kustomization"),
		},
		// A shared two-core CI machine may be slow to start etcd and the
		// API server.
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
	}
	e.CRDInstallOptions.MaxTime = time.Minute
	e.ControlPlane.GetAPIServer().Path = filepath.Join(dir, "kube-apiserver")
	e.ControlPlane.Etcd = &envtest.Etcd{Path: etcd}
	cfg, err := e.Start()
	if err != nil {
		_ = e.Stop()
		return nil, fmt.Errorf("starting kube-apiserver from %s: %w", dir, err)
	}
	env = e
	out := &Env{Config: cfg, KubeConfig: e.KubeConfig}
	if out.Kube, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if out.Dynamic, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: FluxNamespace}}
	if _, err := out.Kube.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s: %w", FluxNamespace, err)
	}
	return out, nil
}

func stop() error {
	stopped.Store(true)
	if env == nil {
		return nil
	}
	return env.Stop()
}

// fluxCRD is a minimal CRD for a namespaced Flux kind: any spec and status
// are kept as given, which is all the forwarder needs, as it reads and
// patches metadata only.
func fluxCRD(gvr schema.GroupVersionResource, kind string) *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	open := apiextensionsv1.JSONSchemaProps{Type: "object", XPreserveUnknownFields: &preserve}
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: gvr.Resource + "." + gvr.Group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: gvr.Group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Kind:     kind,
				ListKind: kind + "List",
				Plural:   gvr.Resource,
				Singular: strings.ToLower(kind),
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name:    gvr.Version,
				Served:  true,
				Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object",
					Properties: map[string]apiextensionsv1.JSONSchemaProps{
						"spec":   open,
						"status": open,
					},
				}},
				Subresources: &apiextensionsv1.CustomResourceSubresources{Status: &apiextensionsv1.CustomResourceSubresourceStatus{}},
			}},
		},
	}
}

// APIVersion is gvr's group/version, as an involvedObject carries it.
func APIVersion(gvr schema.GroupVersionResource) string {
	return gvr.GroupVersion().String()
}

// Create makes a Flux object of kind (GitRepository or Kustomization) with
// labels and a spec Flux would accept, and returns it as stored.
func (e *Env) Create(t testing.TB, gvr schema.GroupVersionResource, namespace, name string, labels map[string]string) *unstructured.Unstructured {
	t.Helper()
	kind := map[schema.GroupVersionResource]string{GitRepository: "GitRepository", Kustomization: "Kustomization"}[gvr]
	if kind == "" {
		t.Fatalf("kubetest: no CRD for %s", gvr)
	}
	spec := map[string]any{"interval": "10m", "url": "https://github.com/stefanprodan/podinfo", "ref": map[string]any{"branch": "master"}}
	if gvr == Kustomization {
		spec = map[string]any{"interval": "10m", "path": "./kustomize", "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "podinfo"}}
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": APIVersion(gvr),
		"kind":       kind,
		"metadata":   map[string]any{"name": name, "namespace": namespace},
		"spec":       spec,
	}}
	obj.SetLabels(labels)
	got, err := e.Dynamic.Resource(gvr).Namespace(namespace).Create(context.Background(), obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %s %s/%s: %v", kind, namespace, name, err)
	}
	return got
}

// Get reads a Flux object; nil when it does not exist.
func (e *Env) Get(t testing.TB, gvr schema.GroupVersionResource, namespace, name string) *unstructured.Unstructured {
	t.Helper()
	got, err := e.Dynamic.Resource(gvr).Namespace(namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatalf("reading %s %s/%s: %v", gvr.Resource, namespace, name, err)
	}
	return got
}

// Namespace creates a namespace of its own for the test, so that objects
// and Events of other tests stay out of its lists and watches. The API
// server has no namespace controller, so it is not deleted.
func (e *Env) Namespace(t testing.TB) string {
	t.Helper()
	name := Name(t)
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := e.Kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	return name
}

var seq atomic.Int64

// Name is a DNS label unique within the test binary, derived from the
// test's name.
func Name(t testing.TB) string {
	base := strings.ToLower(t.Name())
	base = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, base)
	suffix := fmt.Sprintf("-%d", seq.Add(1))
	if len(base) > 63-len(suffix) {
		base = base[len(base)-(63-len(suffix)):]
	}
	return strings.Trim(base, "-") + suffix
}

// ServiceAccountUser is the user name of a ServiceAccount's token.
func ServiceAccountUser(namespace, name string) string {
	return "system:serviceaccount:" + namespace + ":" + name
}

// Impersonate is the admin Config acting as the ServiceAccount
// namespace/name, with the groups the API server gives its tokens: RBAC
// decides what it may do, as for the pod that mounts the token.
func (e *Env) Impersonate(namespace, name string) *rest.Config {
	cfg := rest.CopyConfig(e.Config)
	cfg.Impersonate = rest.ImpersonationConfig{
		UserName: ServiceAccountUser(namespace, name),
		Groups:   []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
	}
	return cfg
}

// WriteKubeConfig writes the admin kubeconfig into dir and returns its path.
func (e *Env) WriteKubeConfig(dir string) (string, error) {
	if len(e.KubeConfig) == 0 {
		return "", errors.New("kubetest: envtest gave no kubeconfig")
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, e.KubeConfig, 0o600)
}
