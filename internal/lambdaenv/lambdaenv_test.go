package lambdaenv

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLoadDefaultsAndErrors(t *testing.T) {
	t.Setenv("HERALD_TABLE", "herald")
	t.Setenv("HERALD_QUEUE_URL", "")
	t.Setenv("HERALD_DLQ_URL", "")
	s, err := Load(false)
	if err != nil {
		t.Fatal(err)
	}
	if s.SecretPrefix != "herald/" || s.ConfigTTL != 30*time.Second || s.SecretTTL != 5*time.Minute ||
		s.RateLimitInterval != 5*time.Minute || s.MaxDeliveryAge != time.Hour || s.LogLevel != slog.LevelInfo {
		t.Fatalf("defaults %+v", s)
	}

	t.Setenv("HERALD_TABLE", "")
	t.Setenv("HERALD_CONFIG_TTL", "soon")
	t.Setenv("HERALD_MAX_DELIVERY_AGE", "0s")
	t.Setenv("HERALD_LOG_LEVEL", "loud")
	_, err = Load(true)
	for _, want := range []string{"HERALD_TABLE is required", "HERALD_QUEUE_URL and HERALD_DLQ_URL are required",
		"HERALD_CONFIG_TTL must be a positive Go duration", "HERALD_MAX_DELIVERY_AGE must be a positive Go duration", "HERALD_LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load() = %v, want it to say %q", err, want)
		}
	}
}
