// Command herald is Herald's CLI: local mode (serve) and config tools.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `herald: a notification controller for Flux, serverless on AWS.

Usage:
  herald serve    [--config DIR] [--addr HOST:PORT] [flags]   run dispatch and receiver locally on a folder of Flux YAML
  herald validate -f PATH [-f PATH ...]                      check Provider, Alert, Receiver and Secret manifests
  herald cluster add NAME [--cluster-tokens FILE]            register a cluster: create its forwarder token, print its Secret
  herald deliveries [--state-dir DIR | --dlq URL]            list pending and dead-lettered deliveries with their last error
  herald replay   [--state-dir DIR] [--max N]                send local mode's dead letters again

Against a deployment on AWS (--table or HERALD_TABLE; the standard AWS config chain):
  herald apply    -f PATH [-f PATH ...]                      validate, then write objects to DynamoDB and Secrets to Secrets Manager
  herald get      providers|alerts|receivers [-n NS] [-o table|yaml|json]
  herald delete   provider|alert|receiver NAME -n NS
  herald hook-url RECEIVER -n NS --api-url URL              print a Receiver's webhook URL
  herald replay   --dlq URL [--max N]                        move dead-lettered deliveries back to the queue

Run "herald COMMAND -h" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "validate":
		return runValidate(args[1:], stdout, stderr)
	case "apply":
		return runApply(args[1:], stdout, stderr)
	case "get":
		return runGet(args[1:], stdout, stderr)
	case "delete":
		return runDelete(args[1:], stdout, stderr)
	case "hook-url":
		return runHookURL(args[1:], stdout, stderr)
	case "cluster":
		return runCluster(args[1:], stdout, stderr)
	case "replay":
		return runReplay(args[1:], stdout, stderr)
	case "deliveries":
		return runDeliveries(args[1:], stdout, stderr)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
