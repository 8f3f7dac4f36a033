package clusterauth

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

var fuzzNow = time.Unix(1764000000, 0)

// FuzzParse reads arbitrary X-Herald-* headers: what it accepts is a
// cluster name, a timestamp of decimal digits within the allowed skew, a
// nonce of the allowed form and a hex SHA-256, and its errors are fixed
// texts that quote no header.
func FuzzParse(f *testing.F) {
	const nonce = "AK3YF2QXJ6PVT5RM7LWZNB4HDE"
	good := hex.EncodeToString(Signature([]byte("prod-token"), "1764000000", nonce, "GET", "/reconcile-requests?after=42", nil))
	f.Add("prod", "1764000000", nonce, "sha256="+good)
	f.Add("prod", "1764000300", nonce, "sha256="+good)
	f.Add("prod", "1763999699", nonce, "sha256="+good)
	f.Add("prod", "+1764000000", nonce, "sha256="+good)
	f.Add("prod", "01764000000", nonce, "sha256="+good)
	f.Add("prod", "1764000000", "short", "sha256="+good)
	f.Add("prod", "1764000000", nonce+"\n", "sha256="+good)
	f.Add("Prod", "1764000000", nonce, "sha256="+good)
	f.Add("prod", "1764000000", nonce, "sha256=zz")
	f.Add("prod", "9223372036854775807", nonce, "sha256=00")
	f.Add("prod", "-9223372036854775808", nonce, "sha256=00")
	f.Add("", "1", "", "sha1=00")
	f.Add("prod", "1.5e9", nonce, "SHA256=00")
	f.Fuzz(func(t *testing.T, cluster, ts, nonce, sig string) {
		h := http.Header{}
		h.Set(HeaderCluster, cluster)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderNonce, nonce)
		h.Set(HeaderSignature, sig)
		s, err := Parse(h, fuzzNow)
		if err != nil {
			msg := err.Error()
			for _, v := range []string{cluster, ts, nonce, strings.TrimPrefix(sig, "sha256=")} {
				if len(v) >= 4 && strings.Contains(msg, v) && !strings.Contains(fixedTexts, v) {
					t.Fatalf("error %q quotes header value %q", msg, v)
				}
			}
			return
		}
		if CheckClusterName(s.Cluster) != nil || s.Cluster != h.Get(HeaderCluster) || s.Timestamp != h.Get(HeaderTimestamp) || s.Nonce != h.Get(HeaderNonce) {
			t.Fatalf("Parse = %+v for %q %q %q", s, cluster, ts, nonce)
		}
		if strings.Trim(s.Timestamp, "0123456789") != "" {
			t.Fatalf("accepted timestamp %q, which is not decimal digits", s.Timestamp)
		}
		unix, err := strconv.ParseInt(s.Timestamp, 10, 64)
		if err != nil {
			t.Fatalf("accepted timestamp %q: %v", s.Timestamp, err)
		}
		if d := fuzzNow.Sub(time.Unix(unix, 0)); d > MaxClockSkew || d < -MaxClockSkew {
			t.Fatalf("accepted timestamp %q, %v off", s.Timestamp, d)
		}
		if !s.Expires().After(fuzzNow) {
			t.Fatalf("accepted a request whose replay key expires at %v, before now", s.Expires())
		}
		if len(s.Nonce) < MinNonce || len(s.Nonce) > MaxNonce || strings.ContainsAny(s.Nonce, "\n\r ") {
			t.Fatalf("accepted nonce %q", s.Nonce)
		}
		want, err := hex.DecodeString(strings.TrimPrefix(h.Get(HeaderSignature), "sha256="))
		if err != nil || !bytes.Equal(s.signature, want) || len(want) != 32 {
			t.Fatalf("accepted signature header %q as %x", sig, s.signature)
		}
	})
}

// fixedTexts are the words of Parse's errors: a header value found in
// them was not quoted.
var fixedTexts = strings.Join([]string{
	"missing " + HeaderCluster + ", " + HeaderTimestamp + ", " + HeaderNonce + " or " + HeaderSignature + " header",
	HeaderTimestamp + " must be unix seconds in decimal digits",
	HeaderNonce + " must be 16 to 64 letters, digits, '-' or '_'",
	HeaderTimestamp + " is more than 5 minutes off the server's clock",
	ErrUnauthenticated.Error(),
}, "\n")

// FuzzSignCheck signs a request and checks it back: the signature verifies
// for the exact cluster token, method, target and body it was made with,
// and for nothing else. Methods and targets hold no line feed, as on the
// wire, which keeps the signed string unambiguous.
func FuzzSignCheck(f *testing.F) {
	f.Add("prod", []byte("prod-token"), "GET", "/reconcile-requests?after=42", []byte(nil), "GET", "/reconcile-requests?after=43", []byte(nil))
	f.Add("prod", []byte("prod-token"), "POST", "/events", []byte(`{"a":1}`), "POST", "/events", []byte(`{"a":2}`))
	f.Add("c", []byte("t"), "POST", "/events", []byte("x"), "POST", "/events", []byte("x"))
	f.Add("c", []byte(""), "GET", "/", []byte("a"), "GET/", "", []byte("a"))
	f.Add("c", []byte("k"), "GET", "/a", []byte("b"), "GET", "/a\nb", []byte(""))
	f.Fuzz(func(t *testing.T, cluster string, token []byte, method, target string, body []byte, method2, target2 string, body2 []byte) {
		if CheckClusterName(cluster) != nil || strings.ContainsAny(method+target+method2+target2, "\n") {
			return
		}
		h := http.Header{}
		Sign(h, cluster, token, method, target, body, fuzzNow)
		s, err := Parse(h, fuzzNow)
		if err != nil {
			t.Fatalf("Parse of a signed request: %v", err)
		}
		if err := s.Check(token, method, target, body); err != nil {
			t.Fatalf("Check of a signed request: %v", err)
		}
		same := method == method2 && target == target2 && bytes.Equal(body, body2)
		if err := s.Check(token, method2, target2, body2); (err == nil) != same {
			t.Fatalf("Check(%q %q %q) of a request signed for (%q %q %q) = %v", method2, target2, body2, method, target, body, err)
		} else if err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Check = %v, want ErrUnauthenticated", err)
		}
		if err := s.Check(append(bytes.Clone(token), 'x'), method, target, body); err == nil {
			t.Fatal("Check accepted another token")
		}
	})
}

// FuzzCheckClusterName accepts exactly the RFC 1123 labels, and its
// errors never quote the name.
func FuzzCheckClusterName(f *testing.F) {
	for _, s := range []string{"prod", "prod-eu", "a", strings.Repeat("a", 63), strings.Repeat("a", 64), "-a", "a-", "Prod", "we ird/../c", "é", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := CheckClusterName(name)
		valid := len(name) >= 1 && len(name) <= 63 && name[0] != '-' && name[len(name)-1] != '-' &&
			strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-") == ""
		if (err == nil) != valid {
			t.Fatalf("CheckClusterName(%q) = %v", name, err)
		}
		if err != nil && len(name) >= 4 && strings.Contains(err.Error(), name) {
			t.Fatalf("the error quotes the name: %v", err)
		}
	})
}
