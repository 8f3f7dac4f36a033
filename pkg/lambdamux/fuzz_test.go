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
)

// FuzzInvoke hands arbitrary payloads to the router: it never panics,
// calls at most one handler, calls the SQS one only with a batch whose
// first record comes from aws:sqs and the HTTP one only for a v2 HTTP API
// event, and answers each with the JSON of that trigger's response.
func FuzzInvoke(f *testing.F) {
	for _, name := range []string{"http-api-v2-post.json", "sqs-two-records.json"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{`nope`, `{}`, `{"Records":[{"eventSource":"aws:s3"}]}`, `{"httpMethod":"GET","path":"/"}`,
		`{"Records":[{"eventSource":"aws:sqs","body":"x","attributes":{"ApproximateReceiveCount":3}}]}`,
		`{"version":"2.0","requestContext":{"http":{"method":"GET"}},"rawPath":"/%zz","body":"eA==","isBase64Encoded":true}`,
		`{"version":"2.0","requestContext":{"http":{"method":""}},"headers":{"host":"a b"},"cookies":["a=b"],"rawQueryString":"a=%"}`,
		`{"version":"2.0","requestContext":{"http":{"method":"POST"}},"body":"!!","isBase64Encoded":true}`} {
		f.Add([]byte(s))
	}
	var httpCalls, sqsCalls int
	var batch events.SQSEvent
	m := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpCalls++
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}), func(_ context.Context, b events.SQSEvent) (events.SQSEventResponse, error) {
		sqsCalls++
		batch = b
		return events.SQSEventResponse{}, nil
	})
	f.Fuzz(func(t *testing.T, payload []byte) {
		httpCalls, sqsCalls = 0, 0
		out, err := m.Invoke(context.Background(), payload)
		if httpCalls+sqsCalls > 1 {
			t.Fatalf("%d HTTP and %d SQS calls", httpCalls, sqsCalls)
		}
		if errors.Is(err, ErrUnknownEvent) && httpCalls+sqsCalls > 0 {
			t.Fatal("a handler ran for an unknown event")
		}
		switch {
		case sqsCalls == 1:
			if len(batch.Records) == 0 || batch.Records[0].EventSource != "aws:sqs" || err != nil {
				t.Fatalf("SQS handler ran for %d records %+v: %v", len(batch.Records), batch.Records, err)
			}
			var resp events.SQSEventResponse
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatalf("SQS answer %q: %v", out, err)
			}
		case httpCalls == 1:
			var probe struct {
				Version string `json:"version"`
			}
			if json.Unmarshal(payload, &probe) != nil || probe.Version != "2.0" || err != nil {
				t.Fatalf("HTTP handler ran for version %q: %v", probe.Version, err)
			}
			var resp events.APIGatewayV2HTTPResponse
			if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != http.StatusAccepted {
				t.Fatalf("HTTP answer %q: %v", out, err)
			}
		default:
			if err == nil {
				t.Fatalf("no handler ran, yet Invoke answered %q", out)
			}
		}
	})
}
