package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/heraldhq/herald/pkg/store/dynamo"
)

const deleteUsage = `Usage: herald delete provider|alert|receiver NAME -n NAMESPACE [--cluster NAME] --table TABLE
`

func runDelete(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald delete", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, deleteUsage); fs.PrintDefaults() }
	var aws awsFlags
	aws.register(fs)
	namespace := fs.String("n", "", "namespace (required)")
	cluster := fs.String("cluster", "", "the object's herald.io/cluster label, if it has one")
	kindArg, rest := splitFirst(args)
	name, rest := splitFirst(rest)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	kind, err := kindOf(kindArg)
	if err != nil || name == "" || *namespace == "" || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "herald delete: %v\n\n%s", errOr(err, "need KIND, NAME and -n NAMESPACE"), deleteUsage)
		return 2
	}
	ctx := context.Background()
	awsCfg, err := aws.load(ctx, true)
	if err != nil {
		fmt.Fprintln(stderr, "herald delete: "+err.Error())
		return 2
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), aws.table, dynamo.Options{})
	deleted, err := store.DeleteObject(ctx, kind, *cluster, *namespace, name)
	if err != nil {
		fmt.Fprintln(stderr, "herald delete: "+err.Error())
		return 1
	}
	ref := kind + "/" + *namespace + "/" + name
	if !deleted {
		fmt.Fprintf(stderr, "herald delete: %s not found\n", ref)
		return 1
	}
	fmt.Fprintf(stdout, "%s deleted\n", ref)
	return 0
}
