package lambdatest

import (
	"os/exec"
	"strings"
	"testing"
)

// The Lambda binaries stay lean: no Kubernetes library (the forwarder,
// the one component that talks to an API server, is a module of its own)
// and no controller-runtime; and no test helper: the goaws SQS emulator
// (with its logrus and gorilla) and the AWS doubles are for tests only.
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
		for _, banned := range []string{
			"k8s.io/", "sigs.k8s.io/",
			"github.com/Admiral-Piett/goaws/", "github.com/sirupsen/logrus", "github.com/gorilla/",
			"github.com/heraldhq/herald/internal/sqstest", "github.com/heraldhq/herald/internal/awstest",
		} {
			if strings.HasPrefix(p, banned) {
				t.Errorf("the Lambda functions import %s", p)
			}
		}
	}
}
