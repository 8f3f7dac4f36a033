package lambdaenv

import (
	"context"
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

// AWSConfig reads what Lambda gives a function, and the endpoint overrides
// the tests use; it refuses to start without a region or credentials.
func TestAWSConfig(t *testing.T) {
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER"} {
		t.Setenv(k, "")
	}
	if _, err := AWSConfig(context.Background()); err == nil || err.Error() != "AWS_REGION is not set" {
		t.Errorf("no region: %v", err)
	}
	t.Setenv("AWS_REGION", "eu-west-1")
	if _, err := AWSConfig(context.Background()); err == nil || err.Error() != "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set" {
		t.Errorf("no credentials: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
	t.Setenv("AWS_SESSION_TOKEN", "session")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://127.0.0.1:4566")
	cfg, err := AWSConfig(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil || cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKIDEXAMPLE" || creds.SecretAccessKey != "s3cr3t" || creds.SessionToken != "session" {
		t.Errorf("config %+v, credentials %+v (%v)", cfg, creds, err)
	}
	if cfg.BaseEndpoint != nil {
		t.Errorf("BaseEndpoint = %q without AWS_ENDPOINT_URL", *cfg.BaseEndpoint)
	}
	// The clients find their own service's override by SDK id.
	src := cfg.ConfigSources[0].(interface {
		GetServiceBaseEndpoint(context.Context, string) (string, bool, error)
	})
	if u, ok, _ := src.GetServiceBaseEndpoint(context.Background(), "Secrets Manager"); !ok || u != "http://127.0.0.1:4566" {
		t.Errorf("Secrets Manager endpoint = %q, %v", u, ok)
	}
	if u, ok, _ := src.GetServiceBaseEndpoint(context.Background(), "DynamoDB"); ok {
		t.Errorf("DynamoDB endpoint = %q without its variable", u)
	}
}
