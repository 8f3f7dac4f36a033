package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

// kinds maps what users type to a kind, as kubectl accepts plural,
// singular and lower-case names.
var kinds = map[string]string{
	"providers": api.KindProvider, "provider": api.KindProvider,
	"alerts": api.KindAlert, "alert": api.KindAlert,
	"receivers": api.KindReceiver, "receiver": api.KindReceiver,
}

func kindOf(arg string) (string, error) {
	if k, ok := kinds[strings.ToLower(arg)]; ok {
		return k, nil
	}
	return "", fmt.Errorf("unknown kind %q: want providers, alerts or receivers", arg)
}

const getUsage = `Usage: herald get providers|alerts|receivers [-n NAMESPACE] [-o table|yaml|json] [--api-version v1] --table TABLE

Objects are printed in the API version they were applied in, or, with
--api-version v1, as notification.toolkit.fluxcd.io/v1 objects; what that
conversion carries over or drops is said on stderr.
`

func runGet(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald get", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, getUsage); fs.PrintDefaults() }
	var aws awsFlags
	aws.register(fs)
	namespace := fs.String("n", "", "namespace (default: all namespaces)")
	output := fs.String("o", "table", "output format: table, yaml or json")
	apiVersion := fs.String("api-version", "", "print the objects as this API version: v1 (default: as applied)")
	kindArg, rest := splitFirst(args)
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	kind, err := kindOf(kindArg)
	if err != nil || fs.NArg() > 0 {
		fmt.Fprintf(stderr, "herald get: %v\n\n%s", errOr(err, "unexpected arguments"), getUsage)
		return 2
	}
	if *output != "table" && *output != "yaml" && *output != "json" {
		fmt.Fprintf(stderr, "herald get: -o %q: want table, yaml or json\n", *output)
		return 2
	}
	if *apiVersion != "" && *apiVersion != "v1" && *apiVersion != api.V1 {
		fmt.Fprintf(stderr, "herald get: --api-version %q: want v1 (or %s)\n", *apiVersion, api.V1)
		return 2
	}
	ctx := context.Background()
	awsCfg, err := aws.load(ctx, true)
	if err != nil {
		fmt.Fprintln(stderr, "herald get: "+err.Error())
		return 2
	}
	store := dynamo.New(dynamodb.NewFromConfig(awsCfg), aws.table, dynamo.Options{})
	objects, err := store.ListObjects(ctx, kind, *namespace)
	if err != nil {
		fmt.Fprintln(stderr, "herald get: "+err.Error())
		return 1
	}
	if *apiVersion != "" {
		objects = asV1(objects, kind, stderr)
	}
	if err := printObjects(stdout, kind, objects, *output, time.Now()); err != nil {
		fmt.Fprintln(stderr, "herald get: "+err.Error())
		return 1
	}
	return 0
}

func printObjects(w io.Writer, kind string, objects []dynamo.Object, format string, now time.Time) error {
	switch format {
	case "json":
		values := make([]any, len(objects))
		for i, o := range objects {
			values[i] = o.Value
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": values})
	case "yaml":
		for i, o := range objects {
			if i > 0 {
				fmt.Fprintln(w, "---")
			}
			if err := writeYAML(w, o.Value); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tNAME\tCLUSTER\t"+detailHeader(kind)+"\tAGE")
	for _, o := range objects {
		cluster := o.Cluster
		if cluster == "" {
			cluster = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", o.Namespace, o.Name, cluster, detail(o.Value), age(now.Sub(o.UpdatedAt)))
	}
	return tw.Flush()
}

// asV1 converts objects to notification.toolkit.fluxcd.io/v1, saying on
// stderr what the conversion carried over or dropped, per object.
func asV1(objects []dynamo.Object, kind string, stderr io.Writer) []dynamo.Object {
	out := make([]dynamo.Object, len(objects))
	for i, o := range objects {
		value, notes := api.AsV1(o.Value)
		o.Value, o.APIVersion = value, api.V1
		scope := ""
		if o.Cluster != "" {
			scope = fmt.Sprintf(" (cluster %q)", o.Cluster)
		}
		for _, note := range notes {
			fmt.Fprintf(stderr, "herald get: %s/%s/%s%s: %s\n", kind, o.Namespace, o.Name, scope, note)
		}
		out[i] = o
	}
	return out
}

func detailHeader(kind string) string {
	switch kind {
	case api.KindProvider:
		return "TYPE"
	case api.KindAlert:
		return "PROVIDER"
	default:
		return "TYPE"
	}
}

func detail(v any) string {
	switch o := v.(type) {
	case api.Provider:
		if o.Spec.Suspend {
			return o.Spec.Type + " (suspended)"
		}
		return o.Spec.Type
	case api.Alert:
		return o.Spec.ProviderRef.Name
	case api.Receiver:
		return o.Spec.Type
	}
	return ""
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// writeYAML prints v with the key order of its JSON form.
func writeYAML(w io.Writer, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var node yaml.Node
	if err := yaml.Unmarshal(data, &node); err != nil {
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(&node); err != nil {
		return err
	}
	return enc.Close()
}

// splitFirst takes the positional argument that comes before the flags.
func splitFirst(args []string) (string, []string) {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return "", args
	}
	return args[0], args[1:]
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}
