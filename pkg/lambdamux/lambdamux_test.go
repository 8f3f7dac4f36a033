package lambdamux

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestInvokeRoutesByEventShape(t *testing.T) {
	var gotMethod, gotPath, gotBody, gotHost string
	httpHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		gotMethod, gotPath, gotBody, gotHost = r.Method, r.URL.Path, string(body), r.Host
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
	})
	var gotRecords []string
	sqs := func(_ context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
		for _, r := range batch.Records {
			gotRecords = append(gotRecords, r.Body+"@"+r.Attributes["ApproximateReceiveCount"])
		}
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: batch.Records[1].MessageId}}}, nil
	}
	// The runtime hands lambda.Handler the raw payload bytes, as here.
	var h lambda.Handler = New(httpHandler, sqs)

	out, err := h.Invoke(context.Background(), fixture(t, "http-api-v2-post.json"))
	if err != nil {
		t.Fatal(err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &resp); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusAccepted || gotMethod != "POST" || gotPath != "/events" || gotBody != `{"hello":"world"}` {
		t.Fatalf("HTTP: status %d, handler saw %s %s %q", resp.StatusCode, gotMethod, gotPath, gotBody)
	}
	if gotHost != "abc123.execute-api.eu-west-1.amazonaws.com" {
		t.Fatalf("host %q", gotHost)
	}

	out, err = h.Invoke(context.Background(), fixture(t, "sqs-two-records.json"))
	if err != nil {
		t.Fatal(err)
	}
	var batchResp events.SQSEventResponse
	if err := json.Unmarshal(out, &batchResp); err != nil {
		t.Fatal(err)
	}
	if len(gotRecords) != 2 || gotRecords[0] != `{"id":"a"}@1` || gotRecords[1] != `{"id":"b"}@3` {
		t.Fatalf("SQS records %v", gotRecords)
	}
	if len(batchResp.BatchItemFailures) != 1 || batchResp.BatchItemFailures[0].ItemIdentifier != "2e1424d4-f796-459a-8184-9c92662be6da" {
		t.Fatalf("batch response %+v", batchResp)
	}
}

func TestInvokeRefusesOtherPayloads(t *testing.T) {
	onlyHTTP := New(http.NotFoundHandler(), nil)
	for name, payload := range map[string]string{
		"not json":              `nope`,
		"empty object":          `{}`,
		"s3 event":              `{"Records":[{"eventSource":"aws:s3"}]}`,
		"sqs without a handler": `{"Records":[{"eventSource":"aws:sqs","body":"x"}]}`,
		"api gateway v1":        `{"httpMethod":"GET","path":"/"}`,
	} {
		if _, err := onlyHTTP.Invoke(context.Background(), []byte(payload)); !errors.Is(err, ErrUnknownEvent) {
			t.Errorf("%s: err = %v, want ErrUnknownEvent", name, err)
		}
	}
}
