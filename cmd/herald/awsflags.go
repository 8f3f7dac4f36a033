package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/heraldhq/herald/pkg/secrets"
)

// awsFlags are the flags of the commands that talk to a deployment. The
// credentials, region and endpoints come from the standard AWS chain
// (profiles, AWS_REGION, AWS_ENDPOINT_URL_DYNAMODB, ...); --region and
// --profile override it.
type awsFlags struct {
	table        string
	region       string
	profile      string
	secretPrefix string
}

func (f *awsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.table, "table", os.Getenv("HERALD_TABLE"), "DynamoDB table of the deployment (env HERALD_TABLE; the stack output TableName)")
	fs.StringVar(&f.region, "region", "", "AWS region (default: the AWS config chain)")
	fs.StringVar(&f.profile, "profile", "", "AWS shared config profile (default: AWS_PROFILE or default)")
	fs.StringVar(&f.secretPrefix, "secret-prefix", envOr("HERALD_SECRET_PREFIX", "herald/"), "Secrets Manager name prefix (env HERALD_SECRET_PREFIX)")
}

// load reads the AWS config, and requires --table when the command uses it.
func (f *awsFlags) load(ctx context.Context, needTable bool) (aws.Config, error) {
	if needTable && f.table == "" {
		return aws.Config{}, fmt.Errorf("--table (or HERALD_TABLE) is required")
	}
	var opts []func(*config.LoadOptions) error
	if f.region != "" {
		opts = append(opts, config.WithRegion(f.region))
	}
	if f.profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(f.profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("loading AWS config: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set AWS_REGION or pass --region")
	}
	return cfg, nil
}

func newSecretStore(cfg aws.Config, prefix string) *secrets.Manager {
	return secrets.New(secretsmanager.NewFromConfig(cfg), secrets.Options{Prefix: prefix})
}
