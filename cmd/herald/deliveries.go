package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/pkg/delivery"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
	"github.com/heraldhq/herald/pkg/store/boltdb"
	"github.com/heraldhq/herald/pkg/store/dynamo"
)

const deliveriesUsage = `Usage: herald deliveries [--state-dir DIR] [-o table|json]
       herald deliveries --dlq URL [--table TABLE] [--queue URL] [-o table|json]

Lists the deliveries that are not done: every pending delivery that has
failed at least once, with its attempts, last error and next attempt, and
every dead letter with its reason.

In local mode (--state-dir, default the one herald serve uses) that is all
of them. In AWS (--dlq), the dead letters come from the dead-letter queue,
the pending deliveries from the table (a scan; only with --table or
HERALD_TABLE), and the delivery queue's counts say how many wait in all.
Nothing is changed: "herald replay" resends dead letters.
`

func runDeliveries(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("herald deliveries", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, deliveriesUsage); fs.PrintDefaults() }
	var awsf awsFlags
	awsf.register(fs)
	stateDir := fs.String("state-dir", defaultStateDir(), "herald serve's --state-dir (env HERALD_STATE_DIR)")
	dlq := fs.String("dlq", os.Getenv("HERALD_DLQ_URL"), "AWS: the dead-letter queue URL (env HERALD_DLQ_URL; the stack output DeadLetterQueueUrl)")
	queue := fs.String("queue", "", "AWS: the delivery queue URL (default: the dead-letter queue's source queue)")
	output := fs.String("o", "table", "table or json")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 || (*output != "table" && *output != "json") || (*dlq == "" && *stateDir == "") {
		fmt.Fprint(stderr, "herald deliveries: need --state-dir DIR or --dlq URL, -o table or json, and no other arguments\n\n"+deliveriesUsage)
		return 2
	}
	ctx := context.Background()
	var entries []delivery.Entry
	var counts *queueCounts
	if *dlq != "" {
		awsCfg, err := awsf.load(ctx, false)
		if err != nil {
			fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
			return 2
		}
		client := sqs.NewFromConfig(awsCfg)
		if *queue == "" {
			if *queue, err = sourceQueue(ctx, client, *dlq); err != nil {
				fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
				return 1
			}
		}
		if counts, err = countQueue(ctx, client, *queue); err != nil {
			fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
			return 1
		}
		if awsf.table != "" {
			db := dynamo.New(dynamodb.NewFromConfig(awsCfg), awsf.table, dynamo.Options{})
			if entries, err = pendingEntries(ctx, db); err != nil {
				fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
				return 1
			}
		}
		dead, err := sqsqueue.ListDeadLetters(ctx, client, *dlq)
		if err != nil {
			fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
			return 1
		}
		entries = append(entries, dead...)
	} else {
		admin, closeAdmin, err := openLocalAdmin(*stateDir)
		if err != nil {
			fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
			return 1
		}
		defer closeAdmin()
		if entries, err = admin.List(ctx); err != nil {
			fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
			return 1
		}
	}
	if *output == "json" {
		out := struct {
			Deliveries []delivery.Entry `json:"deliveries"`
			Queue      *queueCounts     `json:"queue,omitempty"`
		}{orEmpty(entries), counts}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			fmt.Fprintln(stderr, "herald deliveries: "+err.Error())
			return 1
		}
		return 0
	}
	printDeliveries(stdout, entries, time.Now())
	if counts != nil {
		fmt.Fprintf(stdout, "\ndelivery queue: about %d waiting, %d in flight or waiting for a retry\n", counts.Waiting, counts.InFlight)
		if awsf.table == "" {
			fmt.Fprintln(stdout, "pass --table (or set HERALD_TABLE) to list the pending deliveries with their last error")
		}
	}
	return 0
}

// pendingEntries lists the deliveries the dispatch function recorded as
// waiting for a retry.
func pendingEntries(ctx context.Context, db *dynamo.Store) ([]delivery.Entry, error) {
	recs, err := db.ListPendingDeliveries(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing pending deliveries: %w", err)
	}
	out := make([]delivery.Entry, 0, len(recs))
	for _, rec := range recs {
		e := delivery.Entry{ID: rec.ID, State: delivery.StatePending}
		_ = json.Unmarshal(rec.Job, &e)
		e.ID, e.State, e.LastError, e.NextAttempt, e.Updated = rec.ID, delivery.StatePending, rec.LastError, rec.NextAttempt, rec.Updated
		out = append(out, e)
	}
	return out, nil
}

// queueCounts are the delivery queue's approximate counts: SQS does not
// let a pending message be read without taking it from its consumer.
type queueCounts struct {
	Waiting  int `json:"waiting"`
	InFlight int `json:"inFlight"`
}

func countQueue(ctx context.Context, client *sqs.Client, queueURL string) (*queueCounts, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("reading the delivery queue's counts: %w", err)
	}
	n := func(a types.QueueAttributeName) int {
		v, _ := strconv.Atoi(out.Attributes[string(a)])
		return v
	}
	return &queueCounts{
		Waiting:  n(types.QueueAttributeNameApproximateNumberOfMessages) + n(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
		InFlight: n(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
	}, nil
}

// printDeliveries writes one row per delivery; the error column is cut to
// keep rows on one line (-o json has it whole).
func printDeliveries(w io.Writer, entries []delivery.Entry, now time.Time) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no pending or dead-lettered deliveries")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tID\tPROVIDER\tALERT\tOBJECT\tATTEMPTS\tNEXT\tLAST ERROR / REASON")
	for _, e := range entries {
		next := "-"
		if e.State == delivery.StatePending {
			next = "now"
			if d := e.NextAttempt.Sub(now); d > 0 {
				next = "in " + d.Round(time.Second).String()
			}
		}
		why := e.LastError
		if e.Reason != "" {
			why = e.Reason
			if e.LastError != "" && !strings.Contains(e.Reason, e.LastError) {
				why += ": " + e.LastError
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", e.State, shortID(e.ID), orDash(e.Provider+" ("+e.ProviderType+")", e.Provider),
			orDash(e.Alert, e.Alert), orDash(e.Object, e.Object), e.Attempts, next, cut(oneLine(why), 100))
	}
	tw.Flush()
}

func shortID(id string) string {
	if len(id) > 12 && !strings.Contains(id, " ") {
		return id[:12]
	}
	return id
}

// orDash is s, or "-" when cond is empty.
func orDash(s, cond string) string {
	if cond == "" {
		return "-"
	}
	return s
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// openLocalAdmin reaches the deliveries of the state directory dir: through
// the herald serve that holds it, or in its file when none does.
func openLocalAdmin(dir string) (deliveryAdmin, func(), error) {
	if a, ok := dialAdmin(dir); ok {
		return a, func() {}, nil
	}
	path := filepath.Join(dir, stateFile)
	if _, err := os.Stat(path); err != nil {
		return nil, nil, fmt.Errorf("no herald state in %s (herald serve --state-dir %s creates it): %w", dir, dir, err)
	}
	st, err := boltdb.Open(path, boltdb.Options{LockTimeout: time.Second})
	if errors.Is(err, boltdb.ErrLocked) {
		return nil, nil, fmt.Errorf("%s is held by a herald serve whose admin socket %s does not answer", path, filepath.Join(dir, adminSocket))
	}
	if err != nil {
		return nil, nil, err
	}
	return journalAdmin{journal: st}, func() { st.Close() }, nil
}
