package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/config"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

const hookURLUsage = `Usage: herald hook-url RECEIVER -n NAMESPACE [--cluster NAME] --api-url URL --table TABLE
       herald hook-url RECEIVER -n NAMESPACE [--cluster NAME] --config PATH [--api-url URL | --addr HOST:PORT]

Prints the webhook URL of a Receiver applied with herald apply: the API URL
(the stack output ApiUrl) followed by /hook/<digest>, the same digest Flux
gives the Receiver, so the URL a Git host already has keeps working.

With --config, the folder or file herald serve --config reads, it reads
the Receiver and its Secret there instead, without AWS, and prints the path
Flux sets as status.webhookPath (/hook/<digest>); with --api-url (the URL
Git hosts reach herald serve at) or --addr (herald serve's --addr, as
http://HOST:PORT) it prints the whole URL.
`

func runHookURL(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald hook-url", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, hookURLUsage); fs.PrintDefaults() }
	var aws awsFlags
	aws.register(fs)
	namespace := fs.String("n", "", "namespace (required)")
	cluster := fs.String("cluster", "", "the Receiver's herald.io/cluster label, if it has one")
	apiURL := fs.String("api-url", os.Getenv("HERALD_API_URL"), "the deployment's API URL (env HERALD_API_URL; the stack output ApiUrl)")
	configPath := fs.String("config", "", "local mode: the folder or file of Flux YAML herald serve reads")
	addr := fs.String("addr", "", "local mode: herald serve's --addr, to print http://ADDR/hook/<digest>")
	name, rest := splitFirst(args)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *configPath != "" {
		if name == "" || *namespace == "" || fs.NArg() > 0 || *apiURL != "" && *addr != "" {
			fmt.Fprint(stderr, "herald hook-url: need RECEIVER and -n NAMESPACE, and at most one of --api-url and --addr\n\n"+hookURLUsage)
			return 2
		}
		base := strings.TrimSuffix(*apiURL, "/")
		if *addr != "" {
			base = "http://" + *addr
		}
		return localHookURL(name, *namespace, *cluster, *configPath, base, stdout, stderr)
	}
	if name == "" || *namespace == "" || *apiURL == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "herald hook-url: need RECEIVER, -n NAMESPACE and --api-url (or --config)\n\n"+hookURLUsage)
		return 2
	}
	ctx := context.Background()
	awsCfg, err := aws.load(ctx, true)
	if err != nil {
		fmt.Fprintln(stderr, "herald hook-url: "+err.Error())
		return 2
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), aws.table, dynamo.Options{})
	objects, err := store.ListObjects(ctx, api.KindReceiver, *namespace)
	if err != nil {
		fmt.Fprintln(stderr, "herald hook-url: "+err.Error())
		return 1
	}
	for _, o := range objects {
		if o.Name == name && o.Cluster == *cluster {
			if o.HookDigest == "" {
				fmt.Fprintf(stderr, "herald hook-url: Receiver/%s/%s has no webhook digest yet; apply it again with its secret\n", *namespace, name)
				return 1
			}
			fmt.Fprintln(stdout, strings.TrimSuffix(*apiURL, "/")+receiver.HookPrefix+o.HookDigest)
			return 0
		}
	}
	fmt.Fprintf(stderr, "herald hook-url: Receiver/%s/%s not found\n", *namespace, name)
	return 1
}

// localHookURL prints the webhook of a Receiver in the config herald serve
// reads: base (empty for the path alone) followed by the path.
func localHookURL(name, namespace, cluster, path, base string, stdout, stderr io.Writer) int {
	cfg, err := api.LoadPaths(path)
	if err != nil {
		fmt.Fprintln(stderr, "herald hook-url: "+err.Error())
		return 1
	}
	for i := range cfg.Receivers {
		rcv := &cfg.Receivers[i]
		if rcv.Metadata.Name != name || rcv.Metadata.Namespace != namespace || rcv.Metadata.Cluster() != cluster {
			continue
		}
		token, err := localToken(cfg, rcv, path)
		if err != nil {
			fmt.Fprintln(stderr, "herald hook-url: "+err.Error())
			return 1
		}
		fmt.Fprintln(stdout, base+receiver.Path(token, name, namespace))
		return 0
	}
	fmt.Fprintf(stderr, "herald hook-url: Receiver/%s/%s not found in %s\n", namespace, name, path)
	return 1
}

// localToken reads a Receiver's token from the config's Secrets; a
// generic-oidc Receiver has none and Flux hashes the empty token.
func localToken(cfg *api.Config, rcv *api.Receiver, path string) ([]byte, error) {
	fieldError := func(field, format string, args ...any) error {
		return &api.FieldError{File: rcv.Source.File, Index: rcv.Source.Index, Ref: api.Ref(api.KindReceiver, rcv.Metadata),
			Field: field, Message: fmt.Sprintf(format, args...)}
	}
	if rcv.Spec.Type == "generic-oidc" {
		return nil, nil
	}
	if rcv.Spec.SecretRef == nil {
		return nil, fieldError("spec.secretRef", "required: the token is in the Secret it names")
	}
	secret, err := config.SecretsLookup(cfg.Secrets)(rcv.Metadata.Namespace, rcv.Spec.SecretRef.Name)
	if err != nil {
		return nil, fieldError("spec.secretRef.name", "Secret %s/%s not found in %s", rcv.Metadata.Namespace, rcv.Spec.SecretRef.Name, path)
	}
	token, err := receiver.Token(rcv, secret)
	if err != nil {
		return nil, fieldError("spec.secretRef.name", "%s", err)
	}
	return token, nil
}
