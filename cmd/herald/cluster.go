package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/secrets"
)

const clusterUsage = `Usage: herald cluster add NAME [--cluster-tokens FILE | AWS flags] [--rotate]

Registers a cluster: creates the token its forwarder signs with, and prints
the Kubernetes Secret the forwarder mounts (apply it with kubectl apply -f -).
On AWS the token goes to Secrets Manager as <secret-prefix>clusters/NAME;
with --cluster-tokens it goes into that file, which herald serve reads.
A cluster that has a token keeps it unless --rotate is given.
`

// Where the forwarder's manifests in deploy/forwarder look for the token.
const (
	forwarderSecretName = "herald-forwarder-token"
	forwarderNamespace  = "flux-system"
)

func runCluster(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "add" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, clusterUsage)
			return 0
		}
		fmt.Fprint(stderr, "herald cluster: the only subcommand is add\n\n"+clusterUsage)
		return 2
	}
	fs := flag.NewFlagSet("herald cluster add", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, clusterUsage); fs.PrintDefaults() }
	var aws awsFlags
	aws.register(fs)
	tokensFile := fs.String("cluster-tokens", os.Getenv("HERALD_CLUSTER_TOKENS"), "local mode: the YAML file of cluster tokens herald serve reads (env HERALD_CLUSTER_TOKENS); created when missing")
	rotate := fs.Bool("rotate", false, "replace the token of a cluster that has one; its forwarder needs the new Secret")
	namespace := fs.String("namespace", forwarderNamespace, "namespace of the printed Secret, where the forwarder runs")
	name, rest := splitFirst(args[1:])
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if name == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, "herald cluster add: need exactly one NAME\n\n"+clusterUsage)
		return 2
	}
	if err := clusterauth.CheckClusterName(name); err != nil {
		fmt.Fprintf(stderr, "herald cluster add: %q: %v\n", name, err)
		return 2
	}
	token, err := newClusterToken()
	if err != nil {
		fmt.Fprintln(stderr, "herald cluster add: "+err.Error())
		return 1
	}

	var where string
	if *tokensFile != "" {
		if err := addLocalClusterToken(*tokensFile, name, token, *rotate); err != nil {
			fmt.Fprintln(stderr, "herald cluster add: "+err.Error())
			return 1
		}
		where = *tokensFile
	} else {
		ctx := context.Background()
		awsCfg, err := aws.load(ctx, false)
		if err != nil {
			fmt.Fprintln(stderr, "herald cluster add: "+err.Error()+" (or pass --cluster-tokens FILE for local mode)")
			return 2
		}
		if _, err := newSecretStore(awsCfg, aws.secretPrefix).AddClusterToken(ctx, name, []byte(token), *rotate); err != nil {
			if errors.Is(err, secrets.ErrClusterExists) {
				err = fmt.Errorf("%w; pass --rotate to replace it", err)
			}
			fmt.Fprintln(stderr, "herald cluster add: "+err.Error())
			return 1
		}
		where = "Secrets Manager " + aws.secretPrefix + "clusters/" + name
	}
	fmt.Fprintf(stdout, forwarderSecret, forwarderSecretName, *namespace, name, token)
	fmt.Fprintf(stderr, "cluster %s: token stored in %s; apply the Secret above in the cluster and start the forwarder with --cluster %s\n", name, where, name)
	return 0
}

// forwarderSecret is the Secret the forwarder's Deployment mounts.
const forwarderSecret = `apiVersion: v1
kind: Secret
metadata:
  name: %s
  namespace: %s
  labels:
    herald.io/cluster: %s
type: Opaque
stringData:
  token: %s
`

// newClusterToken is 256 random bits in hex: text that survives YAML,
// JSON and environment variables unchanged.
func newClusterToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating a token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// addLocalClusterToken adds name to the tokens file of herald serve. The
// file is replaced in one rename, readable only by its owner.
func addLocalClusterToken(path, name, token string, rotate bool) error {
	tokens := map[string]string{}
	switch data, err := os.ReadFile(path); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return err
	default:
		if err := yaml.Unmarshal(data, &tokens); err != nil {
			return fmt.Errorf("%s: want a YAML map of cluster name to token", path)
		}
		if tokens == nil {
			tokens = map[string]string{}
		}
		// herald serve would refuse the file; say so now, not at its start.
		if err := checkClusterTokens(tokens); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	if _, ok := tokens[name]; ok && !rotate {
		return fmt.Errorf("cluster '%s' has a token in %s already; pass --rotate to replace it", name, path)
	}
	tokens[name] = token
	out, err := yaml.Marshal(tokens)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".cluster-tokens-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
