package dynamotest

import (
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Counter counts the HTTP requests an SDK client sends, by operation (the
// X-Amz-Target header without its service prefix: "PutItem", "Query", ...).
// Every attempt counts, retries included: these are the calls DynamoDB
// would bill.
type Counter struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewCounter returns a Counter at zero.
func NewCounter() *Counter { return &Counter{counts: map[string]int{}} }

// Option installs c on a client: pass it to Server.Client or dynamodb.New.
func (c *Counter) Option() func(*dynamodb.Options) {
	return func(o *dynamodb.Options) {
		o.HTTPClient = &countingClient{next: o.HTTPClient, c: c}
	}
}

// Count returns the requests of op so far.
func (c *Counter) Count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[op]
}

// Total returns all requests so far.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Counts returns a copy of the counts by operation.
func (c *Counter) Counts() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.counts))
	for k, v := range c.counts {
		m[k] = v
	}
	return m
}

// Reset sets every count to zero.
func (c *Counter) Reset() {
	c.mu.Lock()
	clear(c.counts)
	c.mu.Unlock()
}

type countingClient struct {
	next dynamodb.HTTPClient
	c    *Counter
}

func (cc *countingClient) Do(req *http.Request) (*http.Response, error) {
	op := req.Header.Get("X-Amz-Target")
	if i := strings.LastIndexByte(op, '.'); i >= 0 {
		op = op[i+1:]
	}
	cc.c.mu.Lock()
	cc.c.counts[op]++
	cc.c.mu.Unlock()
	return cc.next.Do(req)
}
