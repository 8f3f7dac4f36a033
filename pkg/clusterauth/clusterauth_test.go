package clusterauth

import (
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSignatureVector pins the signed string: a change here breaks every
// deployed forwarder, so it must be deliberate.
func TestSignatureVector(t *testing.T) {
	got := hex.EncodeToString(Signature([]byte("prod-token"), "1764000000", "GET", "/reconcile-requests?after=42", nil))
	// printf '1764000000\nGET\n/reconcile-requests?after=42\n' | openssl dgst -sha256 -hmac prod-token
	const want = "6f2004fc4073c1dcb7cf3e8b36996e41cde405e899aa4267e1db2f4fe80a4388"
	if got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestSignAndCheck(t *testing.T) {
	now := time.Unix(1764000000, 0)
	body := []byte(`{"involvedObject":{}}`)
	h := http.Header{}
	Sign(h, "prod", []byte("tok"), "POST", "/", body, now)
	if h.Get(HeaderTimestamp) != "1764000000" || h.Get(HeaderCluster) != "prod" {
		t.Fatalf("headers = %v", h)
	}
	s, err := Parse(h, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Check([]byte("tok"), "POST", "/", body); err != nil {
		t.Fatalf("valid signature refused: %v", err)
	}
	for name, c := range map[string]struct {
		token, method, target string
		body                  []byte
	}{
		"other token":  {"tok2", "POST", "/", body},
		"other method": {"tok", "PUT", "/", body},
		"other path":   {"tok", "POST", "/events", body},
		"other query":  {"tok", "POST", "/?x=1", body},
		"other body":   {"tok", "POST", "/", []byte(`{}`)},
	} {
		if err := s.Check([]byte(c.token), c.method, c.target, c.body); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("%s: Check = %v, want ErrUnauthenticated", name, err)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	now := time.Unix(1764000000, 0)
	good := func() http.Header {
		h := http.Header{}
		Sign(h, "prod", []byte("tok"), "POST", "/", nil, now)
		return h
	}
	for name, c := range map[string]struct {
		edit func(http.Header)
		want string
	}{
		"no cluster":   {func(h http.Header) { h.Del(HeaderCluster) }, "missing"},
		"no timestamp": {func(h http.Header) { h.Del(HeaderTimestamp) }, "missing"},
		"no sha256=":   {func(h http.Header) { h.Set(HeaderSignature, "abc") }, "missing"},
		"not unix":     {func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, "unix seconds"},
		"too old":      {func(h http.Header) { h.Set(HeaderTimestamp, "1763999000") }, "5 minutes"},
		"in future":    {func(h http.Header) { h.Set(HeaderTimestamp, "1764000301") }, "5 minutes"},
		"not hex":      {func(h http.Header) { h.Set(HeaderSignature, "sha256=zz") }, "invalid signature"},
	} {
		h := good()
		c.edit(h)
		if _, err := Parse(h, now); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: Parse = %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestCheckClusterName(t *testing.T) {
	for _, ok := range []string{"prod", "prod-eu-1", "a", "0", strings.Repeat("x", 63)} {
		if err := CheckClusterName(ok); err != nil {
			t.Errorf("CheckClusterName(%q) = %v, want nil", ok, err)
		}
	}
	for name, want := range map[string]string{
		"":                      "must not be empty",
		strings.Repeat("x", 64): "at most 63",
		"Prod":                  "lower-case letters",
		"we ird/../c lé":        "lower-case letters",
		"a.b":                   "lower-case letters",
		"a_b":                   "lower-case letters",
		"-prod":                 "start and end",
		"prod-":                 "start and end",
	} {
		err := CheckClusterName(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckClusterName(%q) = %v, want an error saying %q", name, err, want)
		}
	}
}
