package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
)

const replayUsage = `Usage: herald replay --dlq URL [--queue URL] [--max N]
       herald replay [--state-dir DIR] [--max N]

Sends dead-lettered deliveries again, once the cause of their failure (a
wrong address, an expired token) is fixed, and reports how many. Each starts
a new retry horizon (--max-delivery-age).

In AWS (--dlq), they move back to the delivery queue: the one whose redrive
policy names the dead-letter queue, unless --queue says otherwise. A delivery
keeps its id, so one that did get through before is not sent twice.

In local mode (--state-dir, default the one herald serve uses), the running
herald serve queues them at once; when none runs, they are sent when it
next starts.
`

func runReplay(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, replayUsage); fs.PrintDefaults() }
	var awsf awsFlags
	awsf.register(fs)
	dlq := fs.String("dlq", os.Getenv("HERALD_DLQ_URL"), "dead-letter queue URL (env HERALD_DLQ_URL; the stack output DeadLetterQueueUrl)")
	stateDir := fs.String("state-dir", defaultStateDir(), "local mode: herald serve's --state-dir, used when --dlq is not given (env HERALD_STATE_DIR)")
	queue := fs.String("queue", "", "delivery queue URL (default: the dead-letter queue's source queue)")
	maxMoves := fs.Int("max", 0, "move at most N deliveries (default: all)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if (*dlq == "" && *stateDir == "") || *maxMoves < 0 || fs.NArg() > 0 {
		fmt.Fprint(stderr, "herald replay: need --dlq URL or --state-dir DIR, a --max that is not negative, and no other arguments\n\n"+replayUsage)
		return 2
	}
	ctx := context.Background()
	if *dlq == "" {
		return replayLocal(ctx, *stateDir, *maxMoves, stdout, stderr)
	}
	awsCfg, err := awsf.load(ctx, false)
	if err != nil {
		fmt.Fprintln(stderr, "herald replay: "+err.Error())
		return 2
	}
	client := sqs.NewFromConfig(awsCfg)
	if *queue == "" {
		if *queue, err = sourceQueue(ctx, client, *dlq); err != nil {
			fmt.Fprintln(stderr, "herald replay: "+err.Error())
			return 1
		}
	}
	moved, err := sqsqueue.Replay(ctx, client, *dlq, *queue, *maxMoves)
	fmt.Fprintf(stdout, "moved %d deliveries from %s to %s\n", moved, *dlq, *queue)
	if err != nil {
		fmt.Fprintln(stderr, "herald replay: "+err.Error())
		return 1
	}
	return 0
}

// sourceQueue finds the one queue that dead-letters into dlq.
func sourceQueue(ctx context.Context, client *sqs.Client, dlq string) (string, error) {
	out, err := client.ListDeadLetterSourceQueues(ctx, &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(dlq)})
	if err != nil {
		return "", fmt.Errorf("finding the delivery queue of %s: %w", dlq, err)
	}
	if len(out.QueueUrls) != 1 {
		return "", fmt.Errorf("%d queues dead-letter into %s; name the delivery queue with --queue", len(out.QueueUrls), dlq)
	}
	return out.QueueUrls[0], nil
}

// replayLocal replays the dead letters of local mode's state directory.
func replayLocal(ctx context.Context, dir string, max int, stdout, stderr io.Writer) int {
	admin, closeAdmin, err := openLocalAdmin(dir)
	if err != nil {
		fmt.Fprintln(stderr, "herald replay: "+err.Error())
		return 1
	}
	defer closeAdmin()
	n, err := admin.Replay(ctx, max)
	where := "queued by the running herald serve"
	if _, offline := admin.(journalAdmin); offline {
		where = "pending until herald serve starts"
	}
	fmt.Fprintf(stdout, "replayed %d deliveries from %s, %s\n", n, dir, where)
	if err != nil {
		fmt.Fprintln(stderr, "herald replay: "+err.Error())
		return 1
	}
	return 0
}
