package deploytest

import (
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/heraldhq/herald/cmd/forwarder/internal/agent"
)

const (
	namespace    = "flux-system"
	name         = "herald-forwarder"
	forwarderURL = "http://herald-forwarder.flux-system.svc.cluster.local./"
	fluxNCURL    = "http://notification-controller.flux-system.svc.cluster.local./"
)

// repoDir is the repository's root.
func repoDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "..")
}

// rendered is the output of a kustomize build, by kind and name.
type rendered map[string]map[string][]byte

func build(t *testing.T, dir string) (rendered, error) {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	out := rendered{}
	for _, r := range m.Resources() {
		b, err := r.MarshalJSON()
		if err != nil {
			t.Fatalf("%s/%s: %v", r.GetKind(), r.GetName(), err)
		}
		if out[r.GetKind()] == nil {
			out[r.GetKind()] = map[string][]byte{}
		}
		out[r.GetKind()][r.GetName()] = b
	}
	return out, nil
}

func mustBuild(t *testing.T, dir string) rendered {
	t.Helper()
	out, err := build(t, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return out
}

// get decodes the object kind/name into v.
func (r rendered) get(t *testing.T, kind, name string, v any) {
	t.Helper()
	b, ok := r[kind][name]
	if !ok {
		t.Fatalf("no %s %s rendered; have %v", kind, name, r.names())
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s %s: %v", kind, name, err)
	}
}

func (r rendered) names() []string {
	var names []string
	for kind, objs := range r {
		for n := range objs {
			names = append(names, kind+"/"+n)
		}
	}
	slices.Sort(names)
	return names
}

func (r rendered) deployment(t *testing.T, name string) appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	r.get(t, "Deployment", name, &d)
	return d
}

func container(t *testing.T, d appsv1.Deployment, name string) corev1.Container {
	t.Helper()
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("Deployment %s has no container %s", d.Name, name)
	return corev1.Container{}
}

// flags maps each --name=value argument to its values, in order.
func flags(args []string) map[string][]string {
	out := map[string][]string{}
	for _, a := range args {
		n, v, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		out[n] = append(out[n], v)
	}
	return out
}

// one is the single value of flag n, failing when it is absent or repeated.
func one(t *testing.T, f map[string][]string, n string) string {
	t.Helper()
	if len(f[n]) != 1 {
		t.Fatalf("--%s given %d times in the args, want once", n, len(f[n]))
	}
	return f[n][0]
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// expand resolves $(VAR) in args from env as the kubelet does, and fails on
// a reference to a variable env lacks (the kubelet would pass it verbatim).
func expand(t *testing.T, args []string, env map[string]string) []string {
	t.Helper()
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = varRef.ReplaceAllStringFunc(a, func(ref string) string {
			n := varRef.FindStringSubmatch(ref)[1]
			v, ok := env[n]
			if !ok {
				t.Errorf("arg %q refers to $(%s), which the container's environment does not set", a, n)
			}
			return v
		})
	}
	return out
}

func forwarderContainer(t *testing.T, r rendered) (appsv1.Deployment, corev1.Container) {
	t.Helper()
	d := r.deployment(t, name)
	if len(d.Spec.Template.Spec.Containers) != 1 {
		t.Fatalf("the Deployment has %d containers, want 1", len(d.Spec.Template.Spec.Containers))
	}
	return d, container(t, d, "forwarder")
}

// containerEnv is what the container's environment holds: its env and the
// ConfigMaps of its envFrom, which must be rendered too.
func containerEnv(t *testing.T, r rendered, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			t.Fatalf("envFrom %+v: only ConfigMaps are expected", from)
		}
		var cm corev1.ConfigMap
		r.get(t, "ConfigMap", from.ConfigMapRef.Name, &cm)
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	return env
}

func TestForwarderObjects(t *testing.T) {
	r := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))

	want := []string{"ClusterRole/" + name, "ClusterRoleBinding/" + name, "Deployment/" + name, "Service/" + name, "ServiceAccount/" + name}
	for _, w := range want {
		kind, n, _ := strings.Cut(w, "/")
		if _, ok := r[kind][n]; !ok {
			t.Errorf("%s not rendered; have %v", w, r.names())
		}
	}
	if _, ok := r["PersistentVolumeClaim"]; ok {
		t.Errorf("the default renders a PersistentVolumeClaim; the buffer should be an emptyDir")
	}
	if _, ok := r["Secret"]; ok {
		t.Errorf("a Secret is rendered; the token Secret comes from `herald cluster add`, not from the manifests")
	}
	for kind, objs := range r {
		for n, b := range objs {
			var o struct {
				Metadata struct{ Namespace string } `json:"metadata"`
			}
			_ = json.Unmarshal(b, &o)
			clusterScoped := kind == "ClusterRole" || kind == "ClusterRoleBinding"
			if !clusterScoped && o.Metadata.Namespace != namespace {
				t.Errorf("%s/%s is in namespace %q, want %s", kind, n, o.Metadata.Namespace, namespace)
			}
		}
	}

	var sa corev1.ServiceAccount
	r.get(t, "ServiceAccount", name, &sa)
	d, _ := forwarderContainer(t, r)
	if d.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("the pod runs as ServiceAccount %q, want %q", d.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1: the buffer and the reconcile cursor belong to one pod", d.Spec.Replicas)
	}
}

func TestForwarderArgs(t *testing.T) {
	r := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))
	_, c := forwarderContainer(t, r)
	if len(c.Command) != 0 {
		t.Errorf("command = %v; the image's entrypoint is the forwarder", c.Command)
	}
	f := flags(c.Args)
	for _, n := range []string{"addr", "herald-url", "cluster", "token-file", "buffer-dir"} {
		if one(t, f, n) == "" {
			t.Errorf("--%s is empty", n)
		}
	}
	if got := one(t, f, "token-file"); got != "/etc/herald/token" {
		t.Errorf("--token-file = %q, want /etc/herald/token", got)
	}
	if got := one(t, f, "buffer-dir"); got != "/var/lib/herald-forwarder" {
		t.Errorf("--buffer-dir = %q, want /var/lib/herald-forwarder", got)
	}
	if _, ok := f["no-kube"]; ok {
		t.Error("--no-kube in the cluster: no labels, no watch, no reconcile requests")
	}

	// Every flag the manifest passes is one the forwarder knows, with a
	// value it takes, once the user has set the ConfigMap's values.
	env := containerEnv(t, r, c)
	for _, k := range []string{"HERALD_URL", "CLUSTER"} {
		if _, ok := env[k]; !ok {
			t.Errorf("the container's environment has no %s for the args to use", k)
		}
	}
	for k := range env {
		t.Setenv("FORWARDER_"+k, "") // no environment leaks into ParseFlags
	}
	edited := map[string]string{"HERALD_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/", "CLUSTER": "prod-eu"}
	cfg, err := agent.ParseFlags(expand(t, c.Args, edited), io.Discard)
	if err != nil {
		t.Fatalf("the forwarder refuses the manifest's args: %v", err)
	}
	if cfg.HeraldURL.String() != edited["HERALD_URL"] || cfg.Cluster != "prod-eu" || cfg.NoKube {
		t.Errorf("parsed config = %+v", cfg)
	}
	// Left as shipped, the placeholders stop the forwarder with a clear
	// error rather than have it send events nowhere.
	if _, err := agent.ParseFlags(expand(t, c.Args, env), io.Discard); err == nil || !strings.Contains(err.Error(), "--cluster") {
		t.Errorf("the unedited placeholders parse (err = %v); a forgotten edit should stop the pod", err)
	}
}

// portOf is the port number --addr listens on.
func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("--addr=%s: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("--addr=%s: %v", addr, err)
	}
	return int32(n)
}

// resolvePort is the container port a Service's targetPort or a probe's
// port names.
func resolvePort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("port %q is not a named port of the container", p.StrVal)
	return 0
}

func TestForwarderServiceAndProbes(t *testing.T) {
	r := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))
	d, c := forwarderContainer(t, r)
	listen := portOf(t, one(t, flags(c.Args), "addr"))

	var svc corev1.Service
	r.get(t, "Service", name, &svc)
	if len(svc.Spec.Ports) != 1 {
		t.Fatalf("the Service has %d ports, want 1", len(svc.Spec.Ports))
	}
	sp := svc.Spec.Ports[0]
	if sp.Port != 80 {
		t.Errorf("the Service listens on %d; Flux's URL %s needs 80", sp.Port, forwarderURL)
	}
	if got := resolvePort(t, c, sp.TargetPort); got != listen {
		t.Errorf("the Service sends to container port %d; --addr listens on %d", got, listen)
	}
	if sp.Protocol != "" && sp.Protocol != corev1.ProtocolTCP {
		t.Errorf("protocol = %s", sp.Protocol)
	}
	// The Service selects the pods, and only through labels the pod has.
	if len(svc.Spec.Selector) == 0 {
		t.Fatal("the Service has no selector")
	}
	podLabels := d.Spec.Template.Labels
	for k, v := range svc.Spec.Selector {
		if podLabels[k] != v {
			t.Errorf("the Service selects %s=%s; the pod's labels are %v", k, v, podLabels)
		}
	}
	for k, v := range d.Spec.Selector.MatchLabels {
		if podLabels[k] != v {
			t.Errorf("the Deployment selects %s=%s; the pod's labels are %v", k, v, podLabels)
		}
	}
	if u := "http://" + svc.Name + "." + svc.Namespace + ".svc.cluster.local./"; u != forwarderURL {
		t.Errorf("the Service's URL is %s, want %s", u, forwarderURL)
	}

	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("no HTTP %s probe", p.name)
			continue
		}
		if p.probe.HTTPGet.Path != p.path {
			t.Errorf("%s probe path = %s, want %s", p.name, p.probe.HTTPGet.Path, p.path)
		}
		if got := resolvePort(t, c, p.probe.HTTPGet.Port); got != listen {
			t.Errorf("%s probe port = %d; --addr listens on %d", p.name, got, listen)
		}
	}
}

func TestForwarderSecurityContext(t *testing.T) {
	r := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))
	d, c := forwarderContainer(t, r)
	pod := d.Spec.Template.Spec.SecurityContext
	sc := c.SecurityContext
	if pod == nil || sc == nil {
		t.Fatalf("pod securityContext %v, container securityContext %v; want both", pod, sc)
	}
	nonRoot := func(p *bool) bool { return p != nil && *p }
	if !nonRoot(pod.RunAsNonRoot) && !nonRoot(sc.RunAsNonRoot) {
		t.Error("runAsNonRoot is not set")
	}
	if pod.RunAsUser == nil || *pod.RunAsUser == 0 {
		t.Errorf("runAsUser = %v, want a non-root uid", pod.RunAsUser)
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 {
		t.Error("the container runs as uid 0")
	}
	if !nonRoot(sc.ReadOnlyRootFilesystem) {
		t.Error("readOnlyRootFilesystem is not set")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Error("allowPrivilegeEscalation is not false")
	}
	if sc.Privileged != nil && *sc.Privileged {
		t.Error("privileged")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
		t.Errorf("capabilities = %+v, want drop ALL and nothing added", sc.Capabilities)
	}
	seccomp := pod.SeccompProfile
	if sc.SeccompProfile != nil {
		seccomp = sc.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("seccompProfile = %+v, want RuntimeDefault", seccomp)
	}
	if d.Spec.Template.Spec.HostNetwork || d.Spec.Template.Spec.HostPID {
		t.Error("the pod uses the host's network or PIDs")
	}

	req, lim := c.Resources.Requests, c.Resources.Limits
	if req.Cpu().IsZero() || req.Memory().IsZero() {
		t.Errorf("requests = %v, want cpu and memory", req)
	}
	if lim.Memory().IsZero() || lim.Memory().Cmp(resource.MustParse("128Mi")) != 0 {
		t.Errorf("memory limit = %v, want 128Mi", lim.Memory())
	}
	if lim.Memory().Cmp(*req.Memory()) < 0 {
		t.Errorf("memory limit %v below the request %v", lim.Memory(), req.Memory())
	}
}

// mountOf is the volume mounted at path, or "".
func mountOf(c corev1.Container, path string) (corev1.VolumeMount, bool) {
	for _, m := range c.VolumeMounts {
		if m.MountPath == path {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

func volume(t *testing.T, d appsv1.Deployment, name string) corev1.Volume {
	t.Helper()
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no volume %s in %+v", name, d.Spec.Template.Spec.Volumes)
	return corev1.Volume{}
}

// bufferVolume is the volume at --buffer-dir.
func bufferVolume(t *testing.T, d appsv1.Deployment, c corev1.Container) corev1.Volume {
	t.Helper()
	dir := one(t, flags(c.Args), "buffer-dir")
	m, ok := mountOf(c, dir)
	if !ok {
		t.Fatalf("nothing is mounted at --buffer-dir %s: the buffer would write to the read-only root", dir)
	}
	if m.ReadOnly {
		t.Fatalf("the buffer is mounted read-only")
	}
	return volume(t, d, m.Name)
}

func TestForwarderVolumes(t *testing.T) {
	r := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))
	d, c := forwarderContainer(t, r)
	f := flags(c.Args)

	// The token: the Secret `herald cluster add` prints, key token, at the
	// file --token-file reads, mounted as a folder so rotations reach it.
	tokenFile := one(t, f, "token-file")
	m, ok := mountOf(c, filepath.Dir(tokenFile))
	if !ok {
		t.Fatalf("nothing is mounted at %s for --token-file", filepath.Dir(tokenFile))
	}
	if m.SubPath != "" {
		t.Error("the token is mounted with subPath; the kubelet would not update it on rotation")
	}
	if !m.ReadOnly {
		t.Error("the token volume is writable")
	}
	tv := volume(t, d, m.Name)
	if tv.Secret == nil || tv.Secret.SecretName != "herald-forwarder-token" {
		t.Fatalf("the token volume is %+v, want the Secret herald-forwarder-token", tv.VolumeSource)
	}
	if tv.Secret.Optional != nil && *tv.Secret.Optional {
		t.Error("the token Secret is optional; the forwarder cannot run without it")
	}
	found := len(tv.Secret.Items) == 0 // without items, every key is a file named after it
	for _, it := range tv.Secret.Items {
		if it.Key == "token" && it.Path == filepath.Base(tokenFile) {
			found = true
		}
	}
	if !found {
		t.Errorf("the Secret's key token is not at %s: items %+v", tokenFile, tv.Secret.Items)
	}

	bv := bufferVolume(t, d, c)
	if bv.EmptyDir == nil {
		t.Fatalf("the buffer volume is %+v, want an emptyDir by default", bv.VolumeSource)
	}
	if bv.EmptyDir.SizeLimit == nil || bv.EmptyDir.SizeLimit.IsZero() {
		t.Fatal("the buffer's emptyDir has no sizeLimit")
	}
	// The volume holds the buffer's bound and the log segment beyond it.
	bound := int64(256 << 20)
	if v := f["buffer-max-bytes"]; len(v) == 1 {
		n, err := strconv.ParseInt(v[0], 10, 64)
		if err != nil {
			t.Fatalf("--buffer-max-bytes=%s: %v", v[0], err)
		}
		bound = n
	}
	if room := bv.EmptyDir.SizeLimit.Value(); room < bound+8<<20 {
		t.Errorf("sizeLimit %v leaves no room beyond --buffer-max-bytes %d", bv.EmptyDir.SizeLimit, bound)
	}
}

func TestForwarderRBAC(t *testing.T) {
	r := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))
	var role rbacv1.ClusterRole
	r.get(t, "ClusterRole", name, &role)
	var binding rbacv1.ClusterRoleBinding
	r.get(t, "ClusterRoleBinding", name, &binding)
	if binding.RoleRef.Kind != "ClusterRole" || binding.RoleRef.Name != role.Name {
		t.Errorf("roleRef = %+v, want ClusterRole %s", binding.RoleRef, role.Name)
	}
	if len(binding.Subjects) != 1 || binding.Subjects[0].Kind != "ServiceAccount" ||
		binding.Subjects[0].Name != name || binding.Subjects[0].Namespace != namespace {
		t.Errorf("subjects = %+v, want the ServiceAccount %s/%s", binding.Subjects, namespace, name)
	}

	allowed := map[string]map[string]bool{} // group/resource -> verbs
	for _, rule := range role.Rules {
		if len(rule.NonResourceURLs) > 0 || len(rule.ResourceNames) > 0 {
			t.Errorf("rule %+v: only resource rules are expected", rule)
		}
		for _, g := range rule.APIGroups {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					if g == "*" || res == "*" || v == "*" {
						t.Errorf("rule %+v has a wildcard", rule)
					}
					if !slices.Contains([]string{"get", "list", "watch", "patch"}, v) {
						t.Errorf("verb %s on %s/%s: the forwarder only reads and patches", v, g, res)
					}
					if allowed[g+"/"+res] == nil {
						allowed[g+"/"+res] = map[string]bool{}
					}
					allowed[g+"/"+res][v] = true
				}
			}
		}
	}
	reconciled := []string{
		"source.toolkit.fluxcd.io/gitrepositories", "source.toolkit.fluxcd.io/ocirepositories",
		"source.toolkit.fluxcd.io/helmrepositories", "source.toolkit.fluxcd.io/buckets",
		"source.toolkit.fluxcd.io/helmcharts", "kustomize.toolkit.fluxcd.io/kustomizations",
		"helm.toolkit.fluxcd.io/helmreleases", "image.toolkit.fluxcd.io/imagerepositories",
		"image.toolkit.fluxcd.io/imagepolicies", "image.toolkit.fluxcd.io/imageupdateautomations",
	}
	for _, gr := range reconciled {
		for _, v := range []string{"get", "list", "watch", "patch"} {
			if !allowed[gr][v] {
				t.Errorf("%s is not allowed on %s", v, gr)
			}
		}
	}
	labelledOnly := []string{
		"notification.toolkit.fluxcd.io/receivers", "notification.toolkit.fluxcd.io/alerts",
		"notification.toolkit.fluxcd.io/providers", "/events", "events.k8s.io/events",
	}
	for _, gr := range labelledOnly {
		for _, v := range []string{"get", "list", "watch"} {
			if !allowed[gr][v] {
				t.Errorf("%s is not allowed on %s", v, gr)
			}
		}
		if allowed[gr]["patch"] {
			t.Errorf("patch is allowed on %s; the forwarder only reads it", gr)
		}
	}
	for gr := range allowed {
		if !slices.Contains(reconciled, gr) && !slices.Contains(labelledOnly, gr) {
			t.Errorf("%s is granted; the forwarder does not use it", gr)
		}
	}
}

func TestPVCComponent(t *testing.T) {
	r := mustBuild(t, filepath.Join("testdata", "pvc"))
	d, c := forwarderContainer(t, r)
	bv := bufferVolume(t, d, c)
	if bv.EmptyDir != nil || bv.PersistentVolumeClaim == nil {
		t.Fatalf("the buffer volume is %+v, want a PersistentVolumeClaim and no emptyDir", bv.VolumeSource)
	}
	var pvc corev1.PersistentVolumeClaim
	r.get(t, "PersistentVolumeClaim", bv.PersistentVolumeClaim.ClaimName, &pvc)
	if pvc.Namespace != namespace {
		t.Errorf("the claim is in %q, want %s", pvc.Namespace, namespace)
	}
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteOnce) {
		t.Errorf("access modes = %v", pvc.Spec.AccessModes)
	}
	if size := pvc.Spec.Resources.Requests.Storage(); size.Cmp(resource.MustParse("264Mi")) < 0 {
		t.Errorf("the claim asks for %v; the buffer alone may take 256 MiB", size)
	}
	// A ReadWriteOnce claim cannot be mounted by the new pod of a rolling
	// update on another node while the old one holds it.
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate != nil {
		t.Errorf("strategy = %+v, want Recreate with a ReadWriteOnce claim", d.Spec.Strategy)
	}
	// The rest of the pod is unchanged: the token is still mounted.
	if v := volume(t, d, "token"); v.Secret == nil || v.Secret.SecretName != "herald-forwarder-token" {
		t.Errorf("the token volume changed: %+v", v.VolumeSource)
	}
	if n := len(d.Spec.Template.Spec.Volumes); n != 2 {
		t.Errorf("%d volumes, want token and buffer", n)
	}
}

func TestTLSComponent(t *testing.T) {
	r := mustBuild(t, filepath.Join("testdata", "tls"))
	d, c := forwarderContainer(t, r)
	v := volume(t, d, "tls")
	if v.Secret == nil || v.Secret.SecretName != "herald-forwarder-tls" || len(v.Secret.Items) != 0 {
		t.Fatalf("the tls volume is %+v, want the whole Secret herald-forwarder-tls", v.VolumeSource)
	}
	mount := ""
	for _, m := range c.VolumeMounts {
		if m.Name == "tls" {
			if !m.ReadOnly || m.SubPath != "" {
				t.Errorf("the tls mount %+v must be read-only and without subPath (a subPath mount is never updated)", m)
			}
			mount = m.MountPath
		}
	}
	if mount == "" {
		t.Fatalf("the tls volume is not mounted: %+v", c.VolumeMounts)
	}
	// The flags name files in the mounted Secret, under the keys of a
	// kubernetes.io/tls Secret; the agent's own flag parsing accepts them.
	want := []string{"--tls-cert-file=" + mount + "/tls.crt", "--tls-key-file=" + mount + "/tls.key"}
	for _, w := range want {
		if !slices.Contains(c.Args, w) {
			t.Errorf("args %q lack %s", c.Args, w)
		}
	}
	edited := map[string]string{"HERALD_URL": "https://abc123.execute-api.eu-west-1.amazonaws.com/", "CLUSTER": "prod-eu"}
	for k := range containerEnv(t, r, c) {
		t.Setenv("FORWARDER_"+k, "") // no environment leaks into ParseFlags
	}
	cfg, err := agent.ParseFlags(expand(t, c.Args, edited), io.Discard)
	if err != nil {
		t.Fatalf("the forwarder refuses the component's args: %v", err)
	}
	if cfg.TLSCertFile != mount+"/tls.crt" || cfg.TLSKeyFile != mount+"/tls.key" {
		t.Errorf("the forwarder reads --tls-cert-file %q and --tls-key-file %q", cfg.TLSCertFile, cfg.TLSKeyFile)
	}
	for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Scheme != corev1.URISchemeHTTPS || p.HTTPGet.Path == "" {
			t.Errorf("the %s probe is %+v, want an HTTPS GET of its path", name, p)
		}
	}
	// The rest of the pod is unchanged.
	if n := len(d.Spec.Template.Spec.Volumes); n != 3 {
		t.Errorf("%d volumes, want token, buffer and tls", n)
	}
	if bv := bufferVolume(t, d, c); bv.EmptyDir == nil {
		t.Errorf("the buffer volume changed: %+v", bv.VolumeSource)
	}
}

func TestFluxEventsAddrComponent(t *testing.T) {
	r := mustBuild(t, filepath.Join("testdata", "flux-system"))

	// The URL the component writes is the forwarder's Service.
	fwd := mustBuild(t, filepath.Join(repoDir(t), "deploy", "forwarder"))
	var svc corev1.Service
	fwd.get(t, "Service", name, &svc)
	if u := "http://" + svc.Name + "." + svc.Namespace + ".svc.cluster.local./"; u != forwarderURL || svc.Spec.Ports[0].Port != 80 {
		t.Fatalf("the forwarder's Service is %s port %d; the component points at %s", u, svc.Spec.Ports[0].Port, forwarderURL)
	}

	want := map[string][]string{
		"source-controller": {
			"--events-addr=" + forwarderURL, "--watch-all-namespaces=true", "--log-level=info", "--log-encoding=json",
			"--enable-leader-election", "--storage-path=/data",
			"--storage-adv-addr=source-controller.$(RUNTIME_NAMESPACE).svc.cluster.local.",
		},
		"kustomize-controller":       {"--concurrent=20", "--events-addr=" + forwarderURL, "--watch-all-namespaces=true", "--log-level=info"},
		"helm-controller":            {"--events-addr=" + forwarderURL, "--watch-all-namespaces=true"},
		"image-reflector-controller": {"--events-addr=" + forwarderURL, "--watch-all-namespaces=true"},
		// notification-controller is Flux's event server, without the flag.
		"notification-controller": {"--watch-all-namespaces=true", "--log-level=info"},
	}
	for n, args := range want {
		d := r.deployment(t, n)
		got := container(t, d, "manager").Args
		if !slices.Equal(got, args) {
			t.Errorf("%s args =\n  %q\nwant\n  %q", n, got, args)
		}
		if n != "notification-controller" {
			if v := flags(got)["events-addr"]; len(v) != 1 || v[0] != forwarderURL {
				t.Errorf("%s: --events-addr = %q, want exactly one, %s", n, v, forwarderURL)
			}
		}
	}
	// Only the manager is Flux's: a sidecar's flag of the same name stays.
	proxy := container(t, r.deployment(t, "kustomize-controller"), "proxy")
	if !slices.Equal(proxy.Args, []string{"--events-addr=" + fluxNCURL}) {
		t.Errorf("the sidecar's args changed: %q", proxy.Args)
	}
	// An optional controller that is not installed is not an error, nor
	// created.
	if _, ok := r["Deployment"]["image-automation-controller"]; ok {
		t.Error("the component created image-automation-controller")
	}
	if len(r["Deployment"]) != len(want) {
		t.Errorf("rendered %v", r.names())
	}
	// The replacement's source is local config, never applied.
	if _, ok := r["ConfigMap"]; ok {
		t.Errorf("a ConfigMap is rendered: %v", r.names())
	}
}

func TestFluxEventsAddrComponentRefusesAnUnknownAddress(t *testing.T) {
	// A controller already sending elsewhere: adding a second flag or
	// leaving it unchanged would both be wrong; the build must fail.
	_, err := build(t, filepath.Join("testdata", "flux-custom-addr"))
	if err == nil {
		t.Fatal("the build succeeded over a source-controller whose --events-addr is not Flux's default")
	}
	if !strings.Contains(err.Error(), "unable to find field") || !strings.Contains(err.Error(), "--events-addr") {
		t.Errorf("error = %v; want it to name the --events-addr it looked for", err)
	}
}
