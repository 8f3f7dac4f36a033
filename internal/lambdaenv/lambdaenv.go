// Package lambdaenv reads the settings both Lambda functions take from
// their environment (docs/aws.md), and builds what they share once per
// execution environment.
package lambdaenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Settings are the HERALD_* variables.
type Settings struct {
	Table             string
	QueueURL          string
	DLQURL            string
	SecretPrefix      string
	ConfigTTL         time.Duration
	SecretTTL         time.Duration
	RateLimitInterval time.Duration
	MaxDeliveryAge    time.Duration
	// RetryScale multiplies retry delays; tests set HERALD_RETRY_SCALE to
	// play a long outage in seconds. Default 1.
	RetryScale float64
	LogLevel   slog.Level
}

// Load reads the environment; dispatch requires the queue URLs too.
func Load(dispatch bool) (Settings, error) {
	s := Settings{
		Table:        os.Getenv("HERALD_TABLE"),
		QueueURL:     os.Getenv("HERALD_QUEUE_URL"),
		DLQURL:       os.Getenv("HERALD_DLQ_URL"),
		SecretPrefix: envOr("HERALD_SECRET_PREFIX", "herald/"),
	}
	var errs []error
	if s.Table == "" {
		errs = append(errs, errors.New("HERALD_TABLE is required"))
	}
	if dispatch && (s.QueueURL == "" || s.DLQURL == "") {
		errs = append(errs, errors.New("HERALD_QUEUE_URL and HERALD_DLQ_URL are required"))
	}
	duration := func(key, def string) time.Duration {
		d, err := time.ParseDuration(envOr(key, def))
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive Go duration such as %s", key, def))
		}
		return d
	}
	s.ConfigTTL = duration("HERALD_CONFIG_TTL", "30s")
	s.SecretTTL = duration("HERALD_SECRET_TTL", "5m")
	s.RateLimitInterval = duration("HERALD_RATE_LIMIT_INTERVAL", "5m")
	// The SAM template derives the queue's maxReceiveCount from the same
	// parameter (mapping DeliveryReceives), so the two cannot disagree.
	s.MaxDeliveryAge = duration("HERALD_MAX_DELIVERY_AGE", "1h")
	scale, err := strconv.ParseFloat(envOr("HERALD_RETRY_SCALE", "1"), 64)
	if err != nil || scale <= 0 {
		errs = append(errs, errors.New("HERALD_RETRY_SCALE must be a positive number"))
	}
	s.RetryScale = scale
	if err := s.LogLevel.UnmarshalText([]byte(envOr("HERALD_LOG_LEVEL", "info"))); err != nil {
		errs = append(errs, errors.New("HERALD_LOG_LEVEL must be debug, info, warn or error"))
	}
	return s, errors.Join(errs...)
}

// Logger writes JSON lines to stdout, which Lambda sends to CloudWatch Logs.
func (s Settings) Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{Level: s.LogLevel}))
}

// AWSConfig is the functions' AWS configuration, read from what Lambda
// puts in a function's environment: the region (AWS_REGION), the execution
// role's credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
// AWS_SESSION_TOKEN) and the standard endpoint overrides (AWS_ENDPOINT_URL
// and AWS_ENDPOINT_URL_<SERVICE>, which the tests use). It does not call
// config.LoadDefaultConfig: the shared config files, SSO, STS and
// instance-metadata providers that package links are never used in Lambda,
// and their packages' initialisation alone cost every cold start about
// 4 ms.
func AWSConfig(context.Context) (aws.Config, error) {
	region := envOr("AWS_REGION", os.Getenv("AWS_DEFAULT_REGION"))
	id, secret := os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case region == "":
		return aws.Config{}, errors.New("AWS_REGION is not set")
	case id == "" || secret == "":
		return aws.Config{}, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set")
	}
	cfg := aws.Config{
		Region:        region,
		Credentials:   aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(id, secret, os.Getenv("AWS_SESSION_TOKEN"))),
		ConfigSources: []any{endpointsFromEnv{}},
	}
	if u := os.Getenv("AWS_ENDPOINT_URL"); u != "" {
		cfg.BaseEndpoint = &u
	}
	return cfg, nil
}

// endpointsFromEnv gives each client the endpoint of its
// AWS_ENDPOINT_URL_<SERVICE> variable, as the SDK's shared config does: the
// service's SDK id in upper case with spaces as underscores
// (AWS_ENDPOINT_URL_SECRETS_MANAGER).
type endpointsFromEnv struct{}

func (endpointsFromEnv) GetServiceBaseEndpoint(_ context.Context, sdkID string) (string, bool, error) {
	u := os.Getenv("AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(sdkID, " ", "_")))
	return u, u != "", nil
}

// Fatal reports a start-up failure as one JSON line and exits, so that the
// init error is visible in CloudWatch and Lambda retries the init.
func Fatal(msg string, err error) {
	slog.New(slog.NewJSONHandler(os.Stdout, nil)).Error(msg, "error", err.Error())
	os.Exit(1)
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}
