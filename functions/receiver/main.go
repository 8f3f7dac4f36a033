// Command receiver is the Lambda function behind webhook URLs (/hook/...)
// and the forwarder's poll for reconcile requests. It only wires Herald's
// packages together.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/heraldhq/herald/internal/lambdaenv"
	"github.com/heraldhq/herald/pkg/lambdamux"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/receiver/cdevents"
	"github.com/heraldhq/herald/pkg/secrets"
	"github.com/heraldhq/herald/pkg/server"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

func main() {
	env, err := lambdaenv.Load(false)
	if err != nil {
		lambdaenv.Fatal("invalid environment", err)
	}
	awsCfg, err := lambdaenv.AWSConfig(context.Background())
	if err != nil {
		lambdaenv.Fatal("loading AWS config", err)
	}
	logger := env.Logger()
	verifier, err := receiver.VerifierFromEnv()
	if err != nil {
		lambdaenv.Fatal("invalid environment", err)
	}
	verifier.CDEvents = cdevents.Validate
	if verifier.GoogleJWKSURL != "" {
		logger.Warn("gcr Receivers trust the keys at "+receiver.GoogleJWKSURLEnv+" instead of Google's", "url", verifier.GoogleJWKSURL)
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), env.Table, dynamo.Options{Logger: logger})
	secretStore := secrets.New(secretsmanager.NewFromConfig(awsCfg), secrets.Options{Prefix: env.SecretPrefix, TTL: env.SecretTTL})

	handlers := server.Handlers{
		Hooks: &server.Hooks{
			Lookup:   server.StoreReceivers(store.ReceiverByDigest, secretStore.Lookup),
			Verifier: verifier,
			Requests: store,
			Logger:   logger,
		},
		Poll: &server.Poll{
			Auth:     &server.Authenticator{Tokens: secretStore.ClusterToken},
			Replays:  store.Deduper(),
			Requests: store,
			Logger:   logger,
		},
	}
	lambda.Start(lambdamux.New(server.Routes(handlers, nil), nil))
}
