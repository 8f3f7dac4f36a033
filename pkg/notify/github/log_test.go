package github_test

import (
	"log/slog"
	"testing"

	"github.com/heraldhq/herald/internal/testlog"
)

// captureLogs routes slog's default logger into a buffer for one test.
func captureLogs(t *testing.T) *testlog.Buffer {
	var buf testlog.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return &buf
}
