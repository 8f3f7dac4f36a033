// Command forwarder is Herald's in-cluster agent. Flux controllers post their
// events to it as they post to notification-controller; it buffers each on
// disk, adds the involved object's labels, signs it with the cluster's token
// and sends it to Herald. It also watches Kubernetes Events of Flux objects,
// and applies the reconcile requests Herald's receiver records.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/heraldhq/herald/cmd/forwarder/internal/agent"
)

func main() {
	cfg, err := agent.ParseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if err == agent.ErrHelp {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "forwarder:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := agent.Run(ctx, cfg, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "forwarder:", err)
		os.Exit(1)
	}
}
