// Package lambdatest runs Herald's real Lambda bootstrap binaries in tests.
// The Runtime Interface Emulator cannot be installed here, so Runtime is a
// small Lambda Runtime API server of its own, and Start runs a binary built
// by Builder against it, with the environment Lambda gives a function.
//
// Runtime serves what aws-lambda-go calls: GET .../invocation/next (long
// poll), POST .../invocation/{id}/response and .../{id}/error, and POST
// .../init/error. It does not model concurrency limits, freezing between
// invocations, timeouts enforced from outside, extensions or
// response streaming.
package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
)

// Runtime API limits and defaults.
const (
	// MaxResponseBytes is Lambda's limit of a buffered response.
	MaxResponseBytes = 6 << 20
	// DefaultTimeout is the invocation deadline Runtime announces.
	DefaultTimeout = 30 * time.Second
	// DefaultFunctionARN is the invoked function ARN Runtime announces.
	DefaultFunctionARN = "arn:aws:lambda:us-east-1:000000000000:function:herald"
)

const apiPrefix = "/2018-06-01/runtime/"

// Runtime is a Lambda Runtime API server for one function instance.
type Runtime struct {
	// Addr is host:port, the value of AWS_LAMBDA_RUNTIME_API.
	Addr string
	// Timeout sets the Lambda-Runtime-Deadline-Ms of each invocation, from
	// the moment the function picks it up. Set it before the first Invoke.
	Timeout time.Duration
	// FunctionARN is sent as Lambda-Runtime-Invoked-Function-Arn.
	FunctionARN string

	srv    *httptest.Server
	queue  chan *invocation // unbuffered: Invoke waits for a `next`
	closed chan struct{}

	mu         sync.Mutex
	inflight   map[string]*invocation
	initErrors []*FunctionError
	initFailed chan struct{} // closed by the first init error
}

type invocation struct {
	id      string
	payload []byte
	done    chan outcome // buffered, written once
}

type outcome struct {
	body []byte
	err  *FunctionError
}

// FunctionError is an error the function reported for an invocation or
// for its initialisation: the body it posted, decoded.
type FunctionError struct {
	// Type is the Lambda-Runtime-Function-Error-Type header, or else the
	// body's errorType.
	Type string
	// Message is the body's errorMessage.
	Message string
	// Body is the raw body.
	Body []byte
	// Init is true for an init error.
	Init bool
}

func (e *FunctionError) Error() string {
	what := "function error"
	if e.Init {
		what = "init error"
	}
	if e.Message == "" && e.Type == "" {
		return what + ": " + string(e.Body)
	}
	return fmt.Sprintf("%s %s: %s", what, e.Type, e.Message)
}

// NewRuntime starts a Runtime on a free loopback port, closed when tb ends.
// Stop the function process before (register its cleanup after): Close
// waits for the open long polls.
func NewRuntime(tb testing.TB) *Runtime {
	tb.Helper()
	r := &Runtime{
		Timeout:     DefaultTimeout,
		FunctionARN: DefaultFunctionARN,
		queue:       make(chan *invocation),
		closed:      make(chan struct{}),
		inflight:    map[string]*invocation{},
		initFailed:  make(chan struct{}),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+apiPrefix+"invocation/next", r.next)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/response", r.result)
	mux.HandleFunc("POST "+apiPrefix+"invocation/{id}/error", r.result)
	mux.HandleFunc("POST "+apiPrefix+"init/error", r.initError)
	r.srv = httptest.NewServer(mux)
	r.Addr = strings.TrimPrefix(r.srv.URL, "http://")
	tb.Cleanup(func() {
		close(r.closed)
		r.srv.Close()
	})
	return r
}

// Invoke hands payload to the function's next `next` call and waits for
// its response. An error the function posts comes back as *FunctionError;
// an init error fails every waiting and later Invoke.
func (r *Runtime) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	inv := &invocation{id: uuid.NewString(), payload: payload, done: make(chan outcome, 1)}
	select {
	case r.queue <- inv:
	case <-r.initFailed:
		return nil, r.InitErrors()[0]
	case <-ctx.Done():
		return nil, fmt.Errorf("the function did not ask for the invocation: %w", ctx.Err())
	}
	select {
	case out := <-inv.done:
		if out.err != nil {
			return nil, out.err
		}
		return out.body, nil
	case <-r.initFailed:
		return nil, r.InitErrors()[0]
	case <-ctx.Done():
		r.mu.Lock()
		delete(r.inflight, inv.id)
		r.mu.Unlock()
		return nil, fmt.Errorf("no response to invocation %s: %w", inv.id, ctx.Err())
	}
}

// InitErrors returns the init errors posted so far.
func (r *Runtime) InitErrors() []*FunctionError {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*FunctionError(nil), r.initErrors...)
}

func (r *Runtime) next(w http.ResponseWriter, req *http.Request) {
	var inv *invocation
	select {
	case inv = <-r.queue:
	case <-req.Context().Done():
		return
	case <-r.closed:
		apiError(w, http.StatusInternalServerError, "Runtime.Closed", "the test's runtime is shutting down")
		return
	}
	r.mu.Lock()
	r.inflight[inv.id] = inv
	r.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Lambda-Runtime-Aws-Request-Id", inv.id)
	h.Set("Lambda-Runtime-Deadline-Ms", strconv.FormatInt(time.Now().Add(r.Timeout).UnixMilli(), 10))
	h.Set("Lambda-Runtime-Invoked-Function-Arn", r.FunctionARN)
	h.Set("Lambda-Runtime-Trace-Id", "Root=1-"+strconv.FormatInt(time.Now().Unix(), 16)+"-"+strings.ReplaceAll(inv.id, "-", "")[:24]+";Sampled=0")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(inv.payload)
}

// result takes a response or an error of an invocation.
func (r *Runtime) result(w http.ResponseWriter, req *http.Request) {
	id := req.PathValue("id")
	body, err := io.ReadAll(io.LimitReader(req.Body, MaxResponseBytes+1))
	if err != nil {
		apiError(w, http.StatusBadRequest, "InvalidRequest", "reading the body: "+err.Error())
		return
	}
	r.mu.Lock()
	inv := r.inflight[id]
	delete(r.inflight, id)
	r.mu.Unlock()
	if inv == nil {
		apiError(w, http.StatusBadRequest, "InvalidRequestID", "no invocation in flight with id "+id)
		return
	}
	if len(body) > MaxResponseBytes {
		msg := "Response payload size exceeded maximum allowed payload size (6291556 bytes)."
		inv.done <- outcome{err: &FunctionError{Type: "Function.ResponseSizeTooLarge", Message: msg}}
		apiError(w, http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", msg)
		return
	}
	var out outcome
	switch {
	case strings.HasSuffix(req.URL.Path, "/error"):
		out.err = decodeError(body, req.Header.Get("Lambda-Runtime-Function-Error-Type"))
	case req.Trailer.Get("Lambda-Runtime-Function-Error-Type") != "":
		// The function failed while writing its response body; the
		// trailer holds the error document in base64.
		doc, _ := base64.StdEncoding.DecodeString(req.Trailer.Get("Lambda-Runtime-Function-Error-Body"))
		out.err = decodeError(doc, req.Trailer.Get("Lambda-Runtime-Function-Error-Type"))
	default:
		out.body = body
	}
	inv.done <- out
	accepted(w)
}

func (r *Runtime) initError(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, MaxResponseBytes))
	fe := decodeError(body, req.Header.Get("Lambda-Runtime-Function-Error-Type"))
	fe.Init = true
	r.mu.Lock()
	r.initErrors = append(r.initErrors, fe)
	if len(r.initErrors) == 1 {
		close(r.initFailed)
	}
	r.mu.Unlock()
	accepted(w)
}

func decodeError(body []byte, typ string) *FunctionError {
	fe := &FunctionError{Type: typ, Body: body}
	var doc struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}
	if json.Unmarshal(body, &doc) == nil {
		fe.Message = doc.ErrorMessage
		if fe.Type == "" {
			fe.Type = doc.ErrorType
		}
	}
	return fe
}

func accepted(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

func apiError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorType": typ, "errorMessage": msg})
}
