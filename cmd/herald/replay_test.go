package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/heraldhq/herald/internal/sqstest"
)

// herald replay against goaws (no t.Parallel: its state is global). The
// delivery queue is found through ListDeadLetterSourceQueues, which
// sqstest answers from the queues' redrive policies.
func TestReplayFindsTheSourceQueueAndMovesDeliveries(t *testing.T) {
	q := sqstest.New(t)
	dlq := q.Queue("herald-dlq")
	deliveries := q.CreateQueue("herald-deliveries", map[string]string{"RedrivePolicy": sqstest.RedrivePolicy(dlq, 8)})
	var bodies []string
	for i := range 3 {
		b := fmt.Sprintf(`{"id":"job-%d"}`, i)
		if _, err := q.Client().SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(dlq), MessageBody: aws.String(b),
		}); err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, b)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL_SQS", q.URL)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))

	code, out, errOut := herald(t, "replay", "--dlq", dlq, "--max", "2")
	if code != 0 || out != fmt.Sprintf("moved 2 deliveries from %s to %s\n", dlq, deliveries) {
		t.Fatalf("replay --max 2: exit %d %q %s", code, out, errOut)
	}
	if got := q.Bodies(deliveries); !slices.Equal(got, bodies[:2]) {
		t.Fatalf("the delivery queue holds %q, want the first 2 deliveries", got)
	}
	if got := q.Bodies(dlq); !slices.Equal(got, bodies[2:]) {
		t.Fatalf("the DLQ holds %q, want the last delivery", got)
	}
	if code, out, _ = herald(t, "replay", "--dlq", dlq); code != 0 || out != fmt.Sprintf("moved 1 deliveries from %s to %s\n", dlq, deliveries) {
		t.Fatalf("replay: exit %d %q", code, out)
	}
	if n := len(q.Messages(dlq)); n != 0 {
		t.Fatalf("%d messages left in the DLQ", n)
	}
	if got := q.Bodies(deliveries); !slices.Equal(got, bodies) {
		t.Fatalf("the delivery queue holds %q, want all 3 deliveries", got)
	}

	orphan := q.Queue("orphan-dlq")
	if code, _, errOut = herald(t, "replay", "--dlq", orphan); code != 1 || !strings.Contains(errOut, "0 queues dead-letter into "+orphan+"; name the delivery queue with --queue") {
		t.Fatalf("replay of a DLQ without a source: exit %d %q", code, errOut)
	}
	if code, _, _ = herald(t, "replay", "--state-dir", ""); code != 2 {
		t.Fatalf("replay without --dlq or --state-dir: exit %d, want 2", code)
	}
}

func TestDeliveriesArguments(t *testing.T) {
	if code, _, errOut := herald(t, "deliveries", "-o", "yaml", "--state-dir", t.TempDir()); code != 2 || !strings.Contains(errOut, "-o table or json") {
		t.Fatalf("deliveries -o yaml: exit %d %q", code, errOut)
	}
	if code, _, errOut := herald(t, "deliveries", "--state-dir", ""); code != 2 || !strings.Contains(errOut, "need --state-dir DIR or --dlq URL") {
		t.Fatalf("deliveries without a state dir: exit %d %q", code, errOut)
	}
	empty := t.TempDir()
	if code, _, errOut := herald(t, "deliveries", "--state-dir", empty); code != 1 || !strings.Contains(errOut, "no herald state in "+empty) {
		t.Fatalf("deliveries of an empty folder: exit %d %q", code, errOut)
	}
	if code, _, errOut := herald(t, "replay", "--state-dir", empty); code != 1 || !strings.Contains(errOut, "no herald state in "+empty) {
		t.Fatalf("replay of an empty folder: exit %d %q", code, errOut)
	}
}
