// Package receivertest runs a local OIDC issuer for tests of the gcr and
// generic-oidc receivers: an HTTP server with its own discovery document
// and key set, signing tokens with keys the test generates, so that no test
// needs Google or a real identity provider.
package receivertest

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Key is an RS256 signing key with its key ID.
type Key struct {
	ID      string
	private *rsa.PrivateKey
}

// NewKey generates a key with a random ID.
func NewKey(tb testing.TB) *Key {
	tb.Helper()
	private, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &Key{ID: hex.EncodeToString(id), private: private}
}

// Sign returns a compact JWT of claims signed with k, its kid in the header.
func (k *Key) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		tb.Fatal(err)
	}
	return k.SignPayload(tb, payload)
}

// SignPayload signs any payload bytes, JSON or not, for fuzz targets that
// reach behind the signature check.
func (k *Key) SignPayload(tb testing.TB, payload []byte) string {
	tb.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: k.private, KeyID: k.ID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		tb.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return token
}

func (k *Key) public() jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.private.PublicKey, KeyID: k.ID, Algorithm: string(jose.RS256), Use: "sig"}
}

// Issuer is a local OIDC issuer. Its URL is its issuer identifier; it
// serves /.well-known/openid-configuration and its key set at JWKSURL,
// answering GET only, as go-oidc asks.
type Issuer struct {
	URL string

	mu   sync.Mutex
	keys []*Key // served; the first signs

	discoveries, keyFetches atomic.Int32
}

// NewIssuer starts an issuer with one key, stopped when the test ends.
func NewIssuer(tb testing.TB) *Issuer {
	tb.Helper()
	iss := &Issuer{keys: []*Key{NewKey(tb)}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		iss.discoveries.Add(1)
		writeJSON(w, map[string]any{
			"issuer":                                iss.URL,
			"jwks_uri":                              iss.JWKSURL(),
			"authorization_endpoint":                iss.URL + "/authorize",
			"token_endpoint":                        iss.URL + "/token",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		iss.keyFetches.Add(1)
		iss.mu.Lock()
		set := jose.JSONWebKeySet{}
		for _, k := range iss.keys {
			set.Keys = append(set.Keys, k.public())
		}
		iss.mu.Unlock()
		writeJSON(w, set)
	})
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	iss.URL = srv.URL
	return iss
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// JWKSURL is where the issuer serves its public keys; gcr tests give it to
// the Verifier as Google's.
func (i *Issuer) JWKSURL() string { return i.URL + "/keys" }

// Key is the key that signs now.
func (i *Issuer) Key() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[0]
}

// Rotate replaces the served keys with a new one and returns the old
// signing key, which the key set no longer holds.
func (i *Issuer) Rotate(tb testing.TB) (old *Key) {
	tb.Helper()
	k := NewKey(tb)
	i.mu.Lock()
	defer i.mu.Unlock()
	old = i.keys[0]
	i.keys = []*Key{k}
	return old
}

// Sign signs claims with the current key.
func (i *Issuer) Sign(tb testing.TB, claims map[string]any) string {
	tb.Helper()
	return i.Key().Sign(tb, claims)
}

// Claims are the registered claims of a token from this issuer for
// audience, valid for ten minutes; tests add and change claims on it.
func (i *Issuer) Claims(subject, audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": i.URL, "sub": subject, "aud": audience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}
}

// Discoveries counts the discovery documents served.
func (i *Issuer) Discoveries() int { return int(i.discoveries.Load()) }

// KeyFetches counts the key sets served.
func (i *Issuer) KeyFetches() int { return int(i.keyFetches.Load()) }

// GoogleClaims are the claims of the ID token Pub/Sub sends with a push:
// issued by Google for audience, to the push subscription's service
// account email, verified.
func GoogleClaims(issuer, email, audience string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": issuer, "aud": audience, "azp": "113774264463038321964",
		"sub": "113774264463038321964", "email": email, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
	}
}
