// Package clusterauth is the signature a cluster's forwarder puts on every
// request to Herald: an HMAC-SHA256 with the cluster's token over the
// timestamp, a nonce, the method, the request target and the body. Binding
// the method and target means a captured request cannot be replayed against
// another path, or as a poll with another cursor; the nonce makes every
// request's signature unique, so that Herald can accept each signature once
// (see Signed.ReplayKey) without refusing two identical requests a sender
// makes in the same second.
//
// It has no dependencies beyond the standard library, so the forwarder can
// sign without linking any of Herald's server code.
package clusterauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed request.
const (
	HeaderCluster   = "X-Herald-Cluster"
	HeaderTimestamp = "X-Herald-Timestamp"
	HeaderNonce     = "X-Herald-Nonce"
	HeaderSignature = "X-Signature"
	// HeaderDuplicate marks Herald's own 429 for a duplicate event, which the
	// forwarder treats as done, unlike API Gateway's throttling 429.
	HeaderDuplicate = "X-Herald-Duplicate"
)

// MaxClockSkew is how far a request's timestamp may be from the server's clock.
const MaxClockSkew = 5 * time.Minute

// Nonce lengths: a nonce is MinNonce to MaxNonce letters, digits, '-' or
// '_'. NewNonce's 26 characters carry 128 random bits.
const (
	MinNonce = 16
	MaxNonce = 64
)

// Signature is the HMAC-SHA256 with token over
// timestamp "\n" nonce "\n" METHOD "\n" target "\n" body, where target is
// the request's path and query as sent (for example
// "/reconcile-requests?after=42").
func Signature(token []byte, timestamp, nonce, method, target string, body []byte) []byte {
	mac := hmac.New(sha256.New, token)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(nonce))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(method))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(target))
	mac.Write([]byte{'\n'})
	mac.Write(body)
	return mac.Sum(nil)
}

// NewNonce returns a fresh random nonce: 26 characters of base32, 128 bits.
func NewNonce() string { return rand.Text() }

// Sign sets the headers of a signed request from cluster with token, with
// a fresh nonce: two requests signed alike, even in the same second, carry
// different signatures, and Herald accepts each once.
func Sign(h http.Header, cluster string, token []byte, method, target string, body []byte, now time.Time) {
	SignNonce(h, cluster, token, NewNonce(), method, target, body, now)
}

// SignNonce is Sign with the nonce given, for tests that need the same
// signature twice. A sender must not reuse a nonce: Herald refuses a
// signature it has seen.
func SignNonce(h http.Header, cluster string, token []byte, nonce, method, target string, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderCluster, cluster)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderNonce, nonce)
	h.Set(HeaderSignature, "sha256="+hex.EncodeToString(Signature(token, ts, nonce, method, target, body)))
}

// SignRequest signs r, whose body is body, with its method and request target.
func SignRequest(r *http.Request, cluster string, token []byte, body []byte, now time.Time) {
	Sign(r.Header, cluster, token, r.Method, r.URL.RequestURI(), body, now)
}

// Signed is what a request claims: its cluster, timestamp, nonce and
// signature, parsed and checked for form and clock skew, but not yet for
// the token.
type Signed struct {
	Cluster   string
	Timestamp string
	Nonce     string
	unix      int64
	signature []byte
}

// ErrUnauthenticated is the one answer to every bad credential, so that a
// caller cannot tell a wrong cluster from a wrong signature.
var ErrUnauthenticated = errors.New("missing or invalid signature")

// Parse reads the signature headers and checks the timestamp against now.
// The timestamp is decimal digits only (no sign, no spaces), the nonce
// MinNonce to MaxNonce letters, digits, '-' or '_', and the cluster a
// cluster name (CheckClusterName); anything else is ErrUnauthenticated or
// a fixed text that quotes no header.
func Parse(h http.Header, now time.Time) (Signed, error) {
	cluster := h.Get(HeaderCluster)
	ts := h.Get(HeaderTimestamp)
	nonce := h.Get(HeaderNonce)
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	if cluster == "" || ts == "" || nonce == "" || !ok {
		return Signed{}, errors.New("missing " + HeaderCluster + ", " + HeaderTimestamp + ", " + HeaderNonce + " or " + HeaderSignature + " header")
	}
	unix, ok := parseUnix(ts)
	if !ok {
		return Signed{}, errors.New(HeaderTimestamp + " must be unix seconds in decimal digits")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return Signed{}, errors.New(HeaderTimestamp + " is more than 5 minutes off the server's clock")
	}
	if !validNonce(nonce) {
		return Signed{}, errors.New(HeaderNonce + " must be 16 to 64 letters, digits, '-' or '_'")
	}
	// The name comes from an unauthenticated header and ends up in event
	// metadata and logs: one that no cluster can have is refused as any
	// other bad credential is, before a token is looked up.
	if CheckClusterName(cluster) != nil {
		return Signed{}, ErrUnauthenticated
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return Signed{}, ErrUnauthenticated
	}
	return Signed{Cluster: cluster, Timestamp: ts, Nonce: nonce, unix: unix, signature: got}, nil
}

// parseUnix reads unix seconds written as strconv.FormatInt writes a
// non-negative number's digits: strconv.ParseInt alone would take a sign.
func parseUnix(ts string) (int64, bool) {
	if len(ts) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(ts); i++ {
		c := ts[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func validNonce(n string) bool {
	if len(n) < MinNonce || len(n) > MaxNonce {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Check compares the signature with the one token gives, in constant time.
func (s Signed) Check(token []byte, method, target string, body []byte) error {
	if !hmac.Equal(s.signature, Signature(token, s.Timestamp, s.Nonce, method, target, body)) {
		return ErrUnauthenticated
	}
	return nil
}

// ReplayKey names the request for the replay guard once Check has passed:
// its cluster and signature, which the nonce makes unique per request. A
// server accepts each key once until Expires.
func (s Signed) ReplayKey() string {
	return s.Cluster + "/" + hex.EncodeToString(s.signature)
}

// Expires is a whole second past the last moment Parse accepts the request
// (its timestamp plus MaxClockSkew): a replay guard need not remember its
// key from then on, since Parse refuses the request itself.
func (s Signed) Expires() time.Time {
	return time.Unix(s.unix, 0).Add(MaxClockSkew + time.Second)
}

// CheckClusterName says why name cannot name a cluster, or returns nil. A
// cluster name is a DNS label (RFC 1123: lower-case letters, digits and
// '-', at most 63, starting and ending with a letter or digit), as a
// Kubernetes namespace is, so it is safe in secret names, metadata and logs.
func CheckClusterName(name string) error {
	if name == "" {
		return errors.New("a cluster name must not be empty")
	}
	if len(name) > 63 {
		return errors.New("a cluster name must be at most 63 characters")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return errors.New("a cluster name may hold only lower-case letters, digits and '-'")
		}
	}
	if name[0] == '-' || name[len(name)-1] == '-' {
		return errors.New("a cluster name must start and end with a letter or digit")
	}
	return nil
}
