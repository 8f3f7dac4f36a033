package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/heraldhq/herald/internal/sqstest"
	"github.com/heraldhq/herald/pkg/delivery/sqsqueue"
)

// herald deliveries --dlq against goaws (no t.Parallel: its state is
// global): each dead letter with the reason dispatch gave it, a message
// that is not a job by its id, the queue's counts, and every message left
// where it was.
func TestDeliveriesListsTheDeadLetterQueue(t *testing.T) {
	q := sqstest.New(t)
	dlq := q.Queue("herald-dlq")
	deliveries := q.CreateQueue("herald-deliveries", map[string]string{"RedrivePolicy": sqstest.RedrivePolicy(dlq, 8)})
	job := `{"id":"4f1c0ffee0ddba11","event":{"involvedObject":{"kind":"Kustomization","namespace":"flux-system","name":"apps"}},` +
		`"provider":{"namespace":"flux-system","name":"slack"},"providerType":"slack","alert":"flux-system/all","attempt":3}`
	for _, m := range []sqs.SendMessageInput{
		{MessageBody: aws.String(job), MessageAttributes: map[string]types.MessageAttributeValue{
			sqsqueue.AttrFailureReason: {DataType: aws.String("String"), StringValue: aws.String("permanent failure: request failed with status code 404")},
		}},
		{MessageBody: aws.String("not a job")},
	} {
		m.QueueUrl = aws.String(dlq)
		if _, err := q.Client().SendMessage(context.Background(), &m); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Client().SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(deliveries), MessageBody: aws.String(`{"id":"waiting"}`)}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL_SQS", q.URL)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HERALD_TABLE", "")

	code, out, errOut := herald(t, "deliveries", "--dlq", dlq, "-o", "json")
	if code != 0 {
		t.Fatalf("deliveries -o json: exit %d %s", code, errOut)
	}
	var got struct {
		Deliveries []map[string]any `json:"deliveries"`
		Queue      map[string]int   `json:"queue"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(got.Deliveries) != 2 {
		t.Fatalf("deliveries %v, want 2", got.Deliveries)
	}
	var dead, malformed map[string]any
	for _, d := range got.Deliveries {
		if d["id"] == "4f1c0ffee0ddba11" {
			dead = d
		} else {
			malformed = d
		}
	}
	if dead == nil || dead["state"] != "dead" || dead["provider"] != "flux-system/slack" || dead["object"] != "Kustomization/flux-system/apps" ||
		dead["attempts"] != 3.0 || dead["reason"] != "permanent failure: request failed with status code 404" {
		t.Fatalf("dead letter %v", dead)
	}
	if malformed == nil || !strings.HasPrefix(malformed["id"].(string), "message ") || malformed["reason"] != "malformed job" {
		t.Fatalf("malformed dead letter %v", malformed)
	}
	// goaws counts in-flight messages as waiting too; one message waits.
	if got.Queue["waiting"]+got.Queue["inFlight"] != 1 {
		t.Fatalf("queue counts %v, want 1 message in all", got.Queue)
	}
	if n := len(q.Messages(dlq)); n != 2 {
		t.Fatalf("%d messages in the DLQ after listing, want 2", n)
	}

	code, out, errOut = herald(t, "deliveries", "--dlq", dlq)
	if code != 0 || !strings.Contains(out, "dead   4f1c0ffee0dd") || !strings.Contains(out, "pass --table") {
		t.Fatalf("deliveries table: exit %d\n%s%s", code, out, errOut)
	}
}
