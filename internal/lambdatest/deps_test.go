package lambdatest

import (
	"os/exec"
	"strings"
	"testing"
)

// The Lambda binaries stay lean: no Kubernetes library (the forwarder,
// the one component that talks to an API server, is a module of its own)
// and no controller-runtime.
func TestFunctionsImportNoKubernetes(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", "./functions/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 50 {
		t.Fatalf("go list printed %d packages; the check would prove nothing", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "k8s.io/") || strings.HasPrefix(p, "sigs.k8s.io/") {
			t.Errorf("the Lambda functions import %s", p)
		}
	}
}
