package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

const applyUsage = `Usage: herald apply -f PATH [-f PATH ...] --table TABLE

Validates the manifests, then writes Providers, Alerts and Receivers to the
DynamoDB table and Secrets to AWS Secrets Manager (<prefix><namespace>/<name>),
never to DynamoDB. Like kubectl apply it is idempotent and prints, per object,
whether it was created, configured or unchanged.
`

// secretStore is where apply writes Secrets and reads Receiver tokens.
type secretStore interface {
	Put(ctx context.Context, namespace, name string, data map[string][]byte) (string, error)
	Lookup(namespace, name string) (map[string][]byte, error)
}

// configStore is the part of the DynamoDB store apply writes to.
type configStore interface {
	PutObject(ctx context.Context, obj any) (dynamo.Change, error)
	PutReceiver(ctx context.Context, r api.Receiver, digest string) (dynamo.Change, error)
}

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, applyUsage); fs.PrintDefaults() }
	var paths pathList
	var aws awsFlags
	fs.Var(&paths, "f", "manifest file or directory; repeatable")
	aws.register(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if len(paths) == 0 || fs.NArg() > 0 {
		fmt.Fprint(stderr, "herald apply: need -f PATH and no other arguments\n\n"+applyUsage)
		return 2
	}

	cfg, err := api.LoadPaths(paths...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	res := api.Validate(cfg, api.ValidateOptions{ExternalSecrets: true})
	checkReceiverCEL(cfg, &res)
	for _, w := range res.Warnings {
		fmt.Fprintln(stderr, "warning: "+w.Error())
	}
	if len(res.Errors) > 0 {
		for _, e := range res.Errors {
			fmt.Fprintln(stderr, e)
		}
		fmt.Fprintf(stderr, "herald apply: %d errors, nothing applied\n", len(res.Errors))
		return 1
	}

	ctx := context.Background()
	awsCfg, err := aws.load(ctx, true)
	if err != nil {
		fmt.Fprintln(stderr, "herald apply: "+err.Error())
		return 2
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), aws.table, dynamo.Options{})
	secrets := newSecretStore(awsCfg, aws.secretPrefix)
	if err := apply(ctx, cfg, store, secrets, stdout); err != nil {
		fmt.Fprintln(stderr, "herald apply: "+err.Error())
		return 1
	}
	return 0
}

// apply writes Secrets first, so that every object applied after them
// finds its references, then Providers, Alerts and Receivers.
func apply(ctx context.Context, cfg *api.Config, store configStore, secrets secretStore, out io.Writer) error {
	applied := make(map[[2]string]map[string][]byte, len(cfg.Secrets))
	for _, s := range cfg.Secrets {
		change, err := secrets.Put(ctx, s.Metadata.Namespace, s.Metadata.Name, s.Data)
		if err != nil {
			return fmt.Errorf("%s: %w", api.Ref(api.KindSecret, s.Metadata), err)
		}
		applied[[2]string{s.Metadata.Namespace, s.Metadata.Name}] = s.Data
		fmt.Fprintf(out, "%s %s\n", api.Ref(api.KindSecret, s.Metadata), change)
	}
	for _, p := range cfg.Providers {
		if err := printChange(out, api.Ref(api.KindProvider, p.Metadata))(store.PutObject(ctx, p)); err != nil {
			return err
		}
	}
	for _, a := range cfg.Alerts {
		if err := printChange(out, api.Ref(api.KindAlert, a.Metadata))(store.PutObject(ctx, a)); err != nil {
			return err
		}
	}
	for _, r := range cfg.Receivers {
		ref := api.Ref(api.KindReceiver, r.Metadata)
		digest := ""
		if r.Spec.SecretRef != nil {
			data, ok := applied[[2]string{r.Metadata.Namespace, r.Spec.SecretRef.Name}]
			if !ok {
				var err error
				if data, err = secrets.Lookup(r.Metadata.Namespace, r.Spec.SecretRef.Name); err != nil {
					return fmt.Errorf("%s: spec.secretRef: %w", ref, err)
				}
			}
			token, err := receiver.Token(&r, data)
			if err != nil {
				return fmt.Errorf("%s: %w", ref, err)
			}
			digest = receiver.Digest(token, r.Metadata.Name, r.Metadata.Namespace)
		}
		if digest == "" {
			// generic-oidc: Flux's digest of an empty token.
			digest = receiver.Digest(nil, r.Metadata.Name, r.Metadata.Namespace)
		}
		if err := printChange(out, ref)(store.PutReceiver(ctx, r, digest)); err != nil {
			return err
		}
	}
	return nil
}

func printChange(out io.Writer, ref string) func(dynamo.Change, error) error {
	return func(change dynamo.Change, err error) error {
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		fmt.Fprintf(out, "%s %s\n", ref, change)
		return nil
	}
}
