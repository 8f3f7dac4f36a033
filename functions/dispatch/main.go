// Command dispatch is the Lambda function that ingests Flux events (HTTP
// API) and delivers them (SQS). It only wires Herald's packages together.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/internal/lambdaenv"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/lambdamux"
	"github.com/heraldhq/herald/pkg/metrics/emf"
	"github.com/heraldhq/herald/pkg/notify/notifiers"
	"github.com/heraldhq/herald/pkg/notify/registry"
	"github.com/heraldhq/herald/pkg/secrets"
	"github.com/heraldhq/herald/pkg/server"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

func main() {
	env, err := lambdaenv.Load(true)
	if err != nil {
		lambdaenv.Fatal("invalid environment", err)
	}
	awsCfg, err := lambdaenv.AWSConfig(context.Background())
	if err != nil {
		lambdaenv.Fatal("loading AWS config", err)
	}
	logger := env.Logger()
	queue := sqs.NewFromConfig(awsCfg)
	db := dynamo.New(dynamodb.NewFromConfig(awsCfg), env.Table, dynamo.Options{
		DedupInterval: env.RateLimitInterval, Logger: logger,
	})
	secretStore := secrets.New(secretsmanager.NewFromConfig(awsCfg), secrets.Options{Prefix: env.SecretPrefix, TTL: env.SecretTTL})
	// Config is read on the first event, not here, to keep the cold start
	// short. Notifiers outlive config refreshes, so connections are reused.
	source := config.NewCached(db, notifiers.New(registry.New), config.CachedOptions{
		TTL: env.ConfigTTL, Secrets: secretStore.Lookup, Logger: logger.With("table", env.Table),
	})
	// Metrics are Embedded Metric Format lines on stdout, which CloudWatch
	// Logs turns into CloudWatch metrics (namespace Herald).
	m := emf.New(os.Stdout, emf.Options{Function: os.Getenv("AWS_LAMBDA_FUNCTION_NAME")})

	ingest := &server.Ingest{
		Config:  source,
		Dedup:   db.Deduper(),
		Queue:   sqsqueue.New(queue, env.QueueURL),
		Auth:    &server.Authenticator{Tokens: secretStore.ClusterToken},
		Metrics: m,
		Logger:  logger,
	}
	deliveries := &sqsqueue.Handler{
		Deliverer: &delivery.Deliverer{
			Targets:    config.Targets(source),
			MaxAge:     env.MaxDeliveryAge,
			RetryScale: env.RetryScale,
			Metrics:    m,
			Logger:     logger,
			Order:      db.StatusOrder(),
		},
		Idempotency: db,
		Client:      queue,
		QueueURL:    env.QueueURL,
		DLQURL:      env.DLQURL,
		Logger:      logger,
	}
	lambda.Start(lambdamux.New(server.Routes(server.Handlers{Ingest: ingest}, nil), deliveries.Handle))
}
