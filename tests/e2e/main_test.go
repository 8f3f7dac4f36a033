// Package e2e runs the real `herald serve` binary as a separate process and
// drives it with Flux's own event recorder, the client every Flux controller
// uses, checking what arrives at local provider endpoints.
package e2e

import (
	"fmt"
	"os"
	"testing"

	"github.com/heraldhq/herald/tests/internal/harness"
)

// heraldBin is the binary built once for all tests.
var heraldBin string

// binDir holds the binaries built for the tests, removed at the end.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "herald-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	heraldBin, err = harness.HeraldBinary(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot build herald:", err)
		return 1
	}
	return m.Run()
}
