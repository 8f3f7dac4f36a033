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
	got := hex.EncodeToString(Signature([]byte("prod-token"), "1764000000", "AK3YF2QXJ6PVT5RM7LWZNB4HDE", "GET", "/reconcile-requests?after=42", nil))
	// printf '1764000000\nAK3YF2QXJ6PVT5RM7LWZNB4HDE\nGET\n/reconcile-requests?after=42\n' | openssl dgst -sha256 -hmac prod-token
	const want = "6bd90a2e01f8a64b704466d5510fab92576b35dd82be9d0e9ce9df960a257351"
	if got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}

func TestSignAndCheck(t *testing.T) {
	now := time.Unix(1764000000, 0)
	body := []byte(`{"involvedObject":{}}`)
	h := http.Header{}
	Sign(h, "prod", []byte("tok"), "POST", "/", body, now)
	if h.Get(HeaderTimestamp) != "1764000000" || h.Get(HeaderCluster) != "prod" || len(h.Get(HeaderNonce)) != 26 {
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
		"no nonce":     {func(h http.Header) { h.Del(HeaderNonce) }, "missing"},
		"not unix":     {func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, "unix seconds"},
		// strconv.ParseInt takes a sign: a second spelling of the same
		// time is refused, not signed over.
		"plus sign":     {func(h http.Header) { h.Set(HeaderTimestamp, "+1764000000") }, "unix seconds"},
		"minus sign":    {func(h http.Header) { h.Set(HeaderTimestamp, "-1764000000") }, "unix seconds"},
		"space":         {func(h http.Header) { h.Set(HeaderTimestamp, "1764000000 ") }, "unix seconds"},
		"underscore":    {func(h http.Header) { h.Set(HeaderTimestamp, "1_764_000_000") }, "unix seconds"},
		"overflow":      {func(h http.Header) { h.Set(HeaderTimestamp, "99999999999999999999") }, "unix seconds"},
		"short nonce":   {func(h http.Header) { h.Set(HeaderNonce, "0123456789abcde") }, HeaderNonce},
		"long nonce":    {func(h http.Header) { h.Set(HeaderNonce, strings.Repeat("n", 65)) }, HeaderNonce},
		"nonce newline": {func(h http.Header) { h.Set(HeaderNonce, "0123456789abcdef\nGET") }, HeaderNonce},
		"bad cluster":   {func(h http.Header) { h.Set(HeaderCluster, "we ird/../c lé") }, "invalid signature"},
		"upper cluster": {func(h http.Header) { h.Set(HeaderCluster, "Prod") }, "invalid signature"},
		"short sig":     {func(h http.Header) { h.Set(HeaderSignature, "sha256=00") }, "invalid signature"},
		"too old":       {func(h http.Header) { h.Set(HeaderTimestamp, "1763999000") }, "5 minutes"},
		"in future":     {func(h http.Header) { h.Set(HeaderTimestamp, "1764000301") }, "5 minutes"},
		"not hex":       {func(h http.Header) { h.Set(HeaderSignature, "sha256=zz") }, "invalid signature"},
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

// TestNonceMakesSignaturesUnique: two identical requests signed in the same
// second (a poll with the same cursor, a retry of an event) differ, so
// that the server's replay guard accepts both; their replay keys differ,
// and a key expires when Parse would refuse the request anyway.
func TestNonceMakesSignaturesUnique(t *testing.T) {
	now := time.Unix(1764000000, 0)
	token := []byte("tok")
	var keys []string
	for range 2 {
		h := http.Header{}
		Sign(h, "prod", token, "GET", "/reconcile-requests?after=42", nil, now)
		s, err := Parse(h, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Check(token, "GET", "/reconcile-requests?after=42", nil); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, s.ReplayKey())
		if !strings.HasPrefix(s.ReplayKey(), "prod/") {
			t.Errorf("ReplayKey = %q, want it to start with the cluster", s.ReplayKey())
		}
		if want := now.Add(MaxClockSkew + time.Second); !s.Expires().Equal(want) {
			t.Errorf("Expires = %v, want %v", s.Expires(), want)
		}
		if _, err := Parse(h, s.Expires()); err == nil {
			t.Error("Parse accepts the request at its Expires")
		}
		if _, err := Parse(h, now.Add(MaxClockSkew)); err != nil {
			t.Errorf("Parse refuses the request at the edge of the skew: %v", err)
		}
	}
	if keys[0] == keys[1] {
		t.Fatalf("two requests signed alike in the same second share the replay key %s", keys[0])
	}
}
