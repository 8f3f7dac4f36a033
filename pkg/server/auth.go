package server

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/store"
)

// Headers of a signed forwarder request (see pkg/clusterauth).
const (
	HeaderCluster   = clusterauth.HeaderCluster
	HeaderTimestamp = clusterauth.HeaderTimestamp
	HeaderNonce     = clusterauth.HeaderNonce
	HeaderSignature = clusterauth.HeaderSignature
	HeaderDuplicate = clusterauth.HeaderDuplicate
)

// MaxClockSkew is how far a request's timestamp may be from the server's clock.
const MaxClockSkew = clusterauth.MaxClockSkew

// TokenFunc returns a cluster's token, or ok=false for an unknown cluster.
type TokenFunc func(ctx context.Context, cluster string) (token []byte, ok bool, err error)

// Authenticator verifies forwarder requests: an HMAC-SHA256 with the
// cluster's token over the timestamp, the nonce, the method, the request
// target and the body (pkg/clusterauth). It does not decide replays: the
// handler records the signature it returns (store.Replays, or with the
// event's de-duplication claim, store.Deduper.ClaimSigned).
type Authenticator struct {
	Tokens TokenFunc
}

// Caller is an authenticated request: its cluster, and its signature as
// the replay guard keeps it.
type Caller struct {
	Cluster   string
	Signature store.Signature
}

// ErrReplayed is the answer (401) to a signature seen before.
var ErrReplayed = errors.New("replayed request")

// Verify checks r, whose body is body, and returns who sent it. A cluster
// name that no cluster can have is refused like a bad signature.
func (a *Authenticator) Verify(ctx context.Context, r *http.Request, body []byte, now time.Time) (Caller, error) {
	signed, err := clusterauth.Parse(r.Header, now)
	if err != nil {
		return Caller{}, err
	}
	token, ok, err := a.Tokens(ctx, signed.Cluster)
	if err != nil {
		return Caller{}, errors.New("cluster token unavailable")
	}
	if !ok {
		return Caller{}, clusterauth.ErrUnauthenticated
	}
	if err := signed.Check(token, r.Method, r.URL.RequestURI(), body); err != nil {
		return Caller{}, err
	}
	return Caller{
		Cluster:   signed.Cluster,
		Signature: store.Signature{Key: signed.ReplayKey(), Expires: signed.Expires()},
	}, nil
}

// StaticTokens serves tokens from a map, for local mode.
func StaticTokens(tokens map[string]string) TokenFunc {
	return func(_ context.Context, cluster string) ([]byte, bool, error) {
		t, ok := tokens[cluster]
		return []byte(t), ok, nil
	}
}
