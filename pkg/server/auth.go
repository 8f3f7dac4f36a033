package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed forwarder request.
const (
	HeaderCluster   = "X-Herald-Cluster"
	HeaderTimestamp = "X-Herald-Timestamp"
	HeaderSignature = "X-Signature"
)

// MaxClockSkew is how far a request's timestamp may be from the server's clock.
const MaxClockSkew = 5 * time.Minute

// TokenFunc returns a cluster's token, or ok=false for an unknown cluster.
type TokenFunc func(ctx context.Context, cluster string) (token []byte, ok bool, err error)

// Authenticator verifies forwarder requests: an HMAC-SHA256 with the
// cluster's token over the timestamp, a dot and the body.
type Authenticator struct {
	Tokens TokenFunc
}

// errUnauthenticated is the one answer to every bad credential, so that a
// caller cannot tell a wrong cluster from a wrong signature.
var errUnauthenticated = errors.New("missing or invalid signature")

// Verify checks h and body and returns the authenticated cluster.
func (a *Authenticator) Verify(ctx context.Context, h http.Header, body []byte, now time.Time) (string, error) {
	cluster := h.Get(HeaderCluster)
	ts := h.Get(HeaderTimestamp)
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	if cluster == "" || ts == "" || !ok {
		return "", errors.New("missing " + HeaderCluster + ", " + HeaderTimestamp + " or " + HeaderSignature + " header")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", errors.New(HeaderTimestamp + " must be unix seconds")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return "", errors.New(HeaderTimestamp + " is more than 5 minutes off the server's clock")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return "", errUnauthenticated
	}
	token, ok, err := a.Tokens(ctx, cluster)
	if err != nil {
		return "", errors.New("cluster token unavailable")
	}
	if !ok {
		return "", errUnauthenticated
	}
	if !hmac.Equal(got, signature(token, ts, body)) {
		return "", errUnauthenticated
	}
	return cluster, nil
}

// Sign sets the headers of a signed request from cluster with token.
func Sign(h http.Header, cluster string, token []byte, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderCluster, cluster)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "sha256="+hex.EncodeToString(signature(token, ts, body)))
}

func signature(token []byte, ts string, body []byte) []byte {
	mac := hmac.New(sha256.New, token)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return mac.Sum(nil)
}

// StaticTokens serves tokens from a map, for local mode.
func StaticTokens(tokens map[string]string) TokenFunc {
	return func(_ context.Context, cluster string) ([]byte, bool, error) {
		t, ok := tokens[cluster]
		return []byte(t), ok, nil
	}
}
