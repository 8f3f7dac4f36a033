// Package clusterauth is the signature a cluster's forwarder puts on every
// request to Herald: an HMAC-SHA256 with the cluster's token over the
// timestamp, the method, the request target and the body. Binding the method
// and target means a captured request cannot be replayed against another
// path, or as a poll with another cursor.
//
// It has no dependencies beyond the standard library, so the forwarder can
// sign without linking any of Herald's server code.
package clusterauth

import (
	"crypto/hmac"
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
	HeaderSignature = "X-Signature"
	// HeaderDuplicate marks Herald's own 429 for a duplicate event, which the
	// forwarder treats as done, unlike API Gateway's throttling 429.
	HeaderDuplicate = "X-Herald-Duplicate"
)

// MaxClockSkew is how far a request's timestamp may be from the server's clock.
const MaxClockSkew = 5 * time.Minute

// Signature is the HMAC-SHA256 with token over
// timestamp "\n" METHOD "\n" target "\n" body, where target is the request's
// path and query as sent (for example "/reconcile-requests?after=42").
func Signature(token []byte, timestamp, method, target string, body []byte) []byte {
	mac := hmac.New(sha256.New, token)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(method))
	mac.Write([]byte{'\n'})
	mac.Write([]byte(target))
	mac.Write([]byte{'\n'})
	mac.Write(body)
	return mac.Sum(nil)
}

// Sign sets the headers of a signed request from cluster with token.
func Sign(h http.Header, cluster string, token []byte, method, target string, body []byte, now time.Time) {
	ts := strconv.FormatInt(now.Unix(), 10)
	h.Set(HeaderCluster, cluster)
	h.Set(HeaderTimestamp, ts)
	h.Set(HeaderSignature, "sha256="+hex.EncodeToString(Signature(token, ts, method, target, body)))
}

// SignRequest signs r, whose body is body, with its method and request target.
func SignRequest(r *http.Request, cluster string, token []byte, body []byte, now time.Time) {
	Sign(r.Header, cluster, token, r.Method, r.URL.RequestURI(), body, now)
}

// Signed is what a request claims: its cluster, timestamp and signature,
// parsed and checked for form and clock skew, but not yet for the token.
type Signed struct {
	Cluster   string
	Timestamp string
	signature []byte
}

// ErrUnauthenticated is the one answer to every bad credential, so that a
// caller cannot tell a wrong cluster from a wrong signature.
var ErrUnauthenticated = errors.New("missing or invalid signature")

// Parse reads the signature headers and checks the timestamp against now.
func Parse(h http.Header, now time.Time) (Signed, error) {
	cluster := h.Get(HeaderCluster)
	ts := h.Get(HeaderTimestamp)
	sig, ok := strings.CutPrefix(h.Get(HeaderSignature), "sha256=")
	if cluster == "" || ts == "" || !ok {
		return Signed{}, errors.New("missing " + HeaderCluster + ", " + HeaderTimestamp + " or " + HeaderSignature + " header")
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return Signed{}, errors.New(HeaderTimestamp + " must be unix seconds")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > MaxClockSkew || d < -MaxClockSkew {
		return Signed{}, errors.New(HeaderTimestamp + " is more than 5 minutes off the server's clock")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return Signed{}, ErrUnauthenticated
	}
	return Signed{Cluster: cluster, Timestamp: ts, signature: got}, nil
}

// Check compares the signature with the one token gives, in constant time.
func (s Signed) Check(token []byte, method, target string, body []byte) error {
	if !hmac.Equal(s.signature, Signature(token, s.Timestamp, method, target, body)) {
		return ErrUnauthenticated
	}
	return nil
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
