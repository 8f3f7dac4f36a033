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
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

const hookURLUsage = `Usage: herald hook-url RECEIVER -n NAMESPACE [--cluster NAME] --api-url URL --table TABLE

Prints the webhook URL of a Receiver applied with herald apply: the API URL
(the stack output ApiUrl) followed by /hook/<digest>, the same digest Flux
gives the Receiver, so the URL a Git host already has keeps working.
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
	name, rest := splitFirst(args)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if name == "" || *namespace == "" || *apiURL == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "herald hook-url: need RECEIVER, -n NAMESPACE and --api-url\n\n"+hookURLUsage)
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
