package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald/pkg/clusterauth"
)

// Headers of a signed forwarder request (see pkg/clusterauth).
const (
	HeaderCluster   = clusterauth.HeaderCluster
	HeaderTimestamp = clusterauth.HeaderTimestamp
	HeaderSignature = clusterauth.HeaderSignature
	HeaderDuplicate = clusterauth.HeaderDuplicate
)

// MaxClockSkew is how far a request's timestamp may be from the server's clock.
const MaxClockSkew = clusterauth.MaxClockSkew

// TokenFunc returns a cluster's token, or ok=false for an unknown cluster.
type TokenFunc func(ctx context.Context, cluster string) (token []byte, ok bool, err error)

// Authenticator verifies forwarder requests: an HMAC-SHA256 with the
// cluster's token over the timestamp, the method, the request target and the
// body (pkg/clusterauth).
type Authenticator struct {
	Tokens TokenFunc
}

// Verify checks r, whose body is body, and returns the authenticated cluster.
func (a *Authenticator) Verify(ctx context.Context, r *http.Request, body []byte, now time.Time) (string, error) {
	signed, err := clusterauth.Parse(r.Header, now)
	if err != nil {
		return "", err
	}
	token, ok, err := a.Tokens(ctx, signed.Cluster)
	if err != nil {
		return "", errors.New("cluster token unavailable")
	}
	if !ok {
		return "", clusterauth.ErrUnauthenticated
	}
	if err := signed.Check(token, r.Method, r.URL.RequestURI(), body); err != nil {
		return "", err
	}
	return signed.Cluster, nil
}

// StaticTokens serves tokens from a map, for local mode.
func StaticTokens(tokens map[string]string) TokenFunc {
	return func(_ context.Context, cluster string) ([]byte, bool, error) {
		t, ok := tokens[cluster]
		return []byte(t), ok, nil
	}
}
