// Command herald is Herald's CLI: local mode (serve) and config tools.
package main

import (
	"fmt"
	"io"
	"os"
)

const usage = `herald: a notification controller for Flux, serverless on AWS.

Usage:
  herald serve    [--config DIR] [--addr HOST:PORT] [flags]   run dispatch locally on a folder of Flux YAML
  herald validate -f PATH [-f PATH ...]                      check Provider, Alert, Receiver and Secret manifests

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
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "herald: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}
