// Package lambdamux lets one Lambda function serve API Gateway HTTP API
// requests (payload v2) with a net/http handler, the same one `herald serve`
// uses, and SQS batches with a batch handler.
package lambdamux

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/httpadapter"
)

// SQSHandler handles one SQS batch, reporting partial failures.
type SQSHandler func(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error)

// Handler implements lambda.Handler. Either field may be nil when the
// function has no such trigger.
type Handler struct {
	http *httpadapter.HandlerAdapterV2
	sqs  SQSHandler
}

// New routes HTTP API events to h and SQS events to sqs.
func New(h http.Handler, sqs SQSHandler) *Handler {
	m := &Handler{sqs: sqs}
	if h != nil {
		m.http = httpadapter.NewV2(h)
	}
	return m
}

// ErrUnknownEvent is returned for a payload that is neither trigger's.
var ErrUnknownEvent = errors.New("unsupported invocation payload: want an API Gateway HTTP API (v2) or SQS event")

// probe holds the fields that tell the two event shapes apart.
type probe struct {
	Records []struct {
		EventSource string `json:"eventSource"`
	} `json:"Records"`
	Version     string `json:"version"`
	RouteKey    string `json:"routeKey"`
	RawPath     string `json:"rawPath"`
	RequestCtxt *struct {
		HTTP *struct {
			Method string `json:"method"`
		} `json:"http"`
	} `json:"requestContext"`
}

// Invoke implements lambda.Handler.
func (m *Handler) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, ErrUnknownEvent
	}
	switch {
	case len(p.Records) > 0 && p.Records[0].EventSource == "aws:sqs" && m.sqs != nil:
		var batch events.SQSEvent
		if err := json.Unmarshal(payload, &batch); err != nil {
			return nil, err
		}
		resp, err := m.sqs(ctx, batch)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	case p.Version == "2.0" && p.RequestCtxt != nil && p.RequestCtxt.HTTP != nil && m.http != nil:
		var req events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &req); err != nil {
			return nil, err
		}
		resp, err := m.http.ProxyWithContext(ctx, req)
		if err != nil {
			return nil, err
		}
		return json.Marshal(resp)
	}
	return nil, ErrUnknownEvent
}
