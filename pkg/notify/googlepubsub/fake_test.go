package googlepubsub_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	project     = "my-project"
	topic       = "flux-events"
	clientEmail = "flux@my-project.iam.gserviceaccount.com"
	keyID       = "0123456789abcdef0123456789abcdef01234567"
	accessToken = "ya29.test-access-token"
	tokenPath   = "/token"
)

// testKey is the service account's key; its public half checks the
// assertions. One key serves every test: generating one takes a while.
var testKey = func() *rsa.PrivateKey {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return key
}()

// privateKeyPEM is testKey as a key file holds it.
func privateKeyPEM() string {
	der, err := x509.MarshalPKCS8PrivateKey(testKey)
	if err != nil {
		panic(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// credentials is a service-account key file whose token_uri is tokenURI.
func credentials(tokenURI string) string {
	b, err := json.Marshal(map[string]string{
		"type":           "service_account",
		"project_id":     project,
		"private_key_id": keyID,
		"private_key":    privateKeyPEM(),
		"client_email":   clientEmail,
		"client_id":      "1",
		"token_uri":      tokenURI,
	})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// tokenServer answers the JWT-bearer grant as Google's token endpoint does
// (https://developers.google.com/identity/protocols/oauth2/service-account#httprest)
// after checking the form and the assertion's header, claims and RS256
// signature; a bad request fails the test and gets a 400.
type tokenServer struct {
	t       *testing.T
	token   string
	expires int
	fetches atomic.Int32
}

func newTokenServer(t *testing.T) *tokenServer {
	return &tokenServer{t: t, token: accessToken, expires: 3599}
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.fetches.Add(1)
	if err := s.check(r); err != nil {
		s.t.Errorf("token request: %v", err)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = fmt.Fprint(w, `{"error":"invalid_grant","error_description":"rejected by the test"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"access_token":%q,"expires_in":%d,"token_type":"Bearer"}`, s.token, s.expires)
}

func (s *tokenServer) check(r *http.Request) error {
	if r.Method != http.MethodPost || r.URL.Path != tokenPath {
		return fmt.Errorf("%s %s", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		return fmt.Errorf("content type %q", ct)
	}
	if err := r.ParseForm(); err != nil {
		return err
	}
	if len(r.PostForm) != 2 || r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
		return fmt.Errorf("form %v", r.PostForm)
	}
	header, claims, err := verifyJWT(r.PostForm.Get("assertion"), &testKey.PublicKey)
	if err != nil {
		return err
	}
	if header["alg"] != "RS256" || header["typ"] != "JWT" || header["kid"] != keyID {
		return fmt.Errorf("JWT header %v", header)
	}
	aud := "http://" + r.Host + tokenPath
	if claims["iss"] != clientEmail || claims["scope"] != "https://www.googleapis.com/auth/pubsub" || claims["aud"] != aud {
		return fmt.Errorf("JWT claims %v, want iss %s, aud %s", claims, clientEmail, aud)
	}
	iat, _ := claims["iat"].(float64)
	exp, _ := claims["exp"].(float64)
	if now := float64(time.Now().Unix()); iat < now-60 || iat > now+60 || exp-iat != 3600 {
		return fmt.Errorf("JWT iat %v exp %v", iat, exp)
	}
	return nil
}

// verifyJWT checks a compact JWS signed with RS256 (RFC 7515, RFC 7518
// §3.3) and returns its header and claims.
func verifyJWT(assertion string, key *rsa.PublicKey) (header, claims map[string]any, err error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, nil, fmt.Errorf("assertion has %d parts", len(parts))
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, nil, fmt.Errorf("signature: %v", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], sig); err != nil {
		return nil, nil, fmt.Errorf("signature: %v", err)
	}
	for i, v := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(b, v); err != nil {
			return nil, nil, err
		}
	}
	return header, claims, nil
}

// fakeGCP is one server that is both the token endpoint (at /token) and
// the Pub/Sub API, recording every request. publish answers the publish
// call; nil means the API's 200 with a message ID.
type fakeGCP struct {
	*notifytest.Sink
	tokens *tokenServer
}

func newFakeGCP(t *testing.T, publish http.HandlerFunc) *fakeGCP {
	f := &fakeGCP{tokens: newTokenServer(t)}
	if publish == nil {
		publish = notifytest.Status(http.StatusOK, `{"messageIds":["1"]}`, "Content-Type", "application/json")
	}
	f.Sink = notifytest.NewSink(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			f.tokens.ServeHTTP(w, r)
			return
		}
		publish(w, r)
	})
	return f
}

func (f *fakeGCP) credentials() string { return credentials(f.URL + tokenPath) }

// publishes are the requests other than token fetches.
func (f *fakeGCP) publishes() []notifytest.Request {
	var out []notifytest.Request
	for _, r := range f.Requests() {
		if u, _ := url.Parse(r.URI); u.Path != tokenPath {
			out = append(out, r)
		}
	}
	return out
}

// pkcs1Credentials is a key file holding testKey as PKCS #1.
func pkcs1Credentials() string {
	var sa map[string]string
	if err := json.Unmarshal([]byte(credentials("")), &sa); err != nil {
		panic(err)
	}
	sa["private_key"] = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(testKey)}))
	b, err := json.Marshal(sa)
	if err != nil {
		panic(err)
	}
	return string(b)
}
