// Package githubtest is a fake GitHub REST API for tests: an httptest
// server that plays the calls Herald's GitHub providers make (commit
// statuses, App installation lookups and tokens), checks each request the
// way go-github sends it (method, path, query, headers, body, the App JWT's
// RS256 signature) and records every request.
package githubtest

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// Prefix is where the fake serves the API: an Enterprise Server's
// /api/v3, which Herald uses for any host but github.com.
const Prefix = "/api/v3"

// Status is a commit status as the fake stores and lists it.
type Status struct {
	ID          int64  `json:"id"`
	State       string `json:"state"`
	Description string `json:"description,omitempty"`
	Context     string `json:"context,omitempty"`
	TargetURL   string `json:"target_url,omitempty"`
	CreatedAt   string `json:"created_at"`
}

// Server is the fake. Set its fields before the first request.
type Server struct {
	*httptest.Server
	notifytest.Recorder

	// Token is the personal access token API calls may carry; tokens the
	// fake issued to the App are accepted too.
	Token string
	// AppID and AppKey are the App whose JWTs the fake accepts.
	AppID  int64
	AppKey *rsa.PublicKey
	// Installations maps "orgs/<owner>" or "users/<owner>" to an
	// installation id.
	Installations map[string]int64
	// TokenTTL is the life of an installation token; one hour by default.
	TokenTTL time.Duration
	// Intercept, if set, may answer a request before the fake does (a rate
	// limit, a server error); it returns true when it did.
	Intercept func(w http.ResponseWriter, r *http.Request) bool
	// Now is the fake's clock; time.Now by default.
	Now func() time.Time

	t        testing.TB
	mu       sync.Mutex
	statuses map[string][]Status
	issued   map[string]time.Time
	nextID   int64
}

// New starts a fake, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, TokenTTL: time.Hour, Now: time.Now, statuses: map[string][]Status{}, issued: map[string]time.Time{}, Installations: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"/repos/{owner}/{repo}/commits/{sha}/statuses", s.listStatuses)
	mux.HandleFunc("POST "+Prefix+"/repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	mux.HandleFunc("GET "+Prefix+"/orgs/{owner}/installation", s.installation("orgs"))
	mux.HandleFunc("GET "+Prefix+"/users/{owner}/installation", s.installation("users"))
	mux.HandleFunc("POST "+Prefix+"/app/installations/{id}/access_tokens", s.accessToken)
	s.Server = httptest.NewServer(s.record(mux))
	t.Cleanup(s.Close)
	return s
}

// Statuses returns the statuses of a commit, newest first.
func (s *Server) Statuses(owner, repo, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses[owner+"/"+repo+"@"+sha]...)
}

// AddStatus records a status on a commit as if someone had set it.
func (s *Server) AddStatus(owner, repo, sha string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	st.ID = s.nextID
	if st.CreatedAt == "" {
		st.CreatedAt = s.Now().UTC().Format(time.RFC3339)
	}
	key := owner + "/" + repo + "@" + sha
	s.statuses[key] = append([]Status{st}, s.statuses[key]...)
}

// IssuedTokens returns how many installation tokens the fake has issued.
func (s *Server) IssuedTokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.issued)
}

func (s *Server) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.Record(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if s.Intercept != nil && s.Intercept(w, r) {
			return
		}
		if msg := checkHeaders(r, r.ContentLength != 0); msg != "" {
			s.t.Errorf("githubtest: %s %s: %s", r.Method, r.RequestURI, msg)
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHeaders checks what go-github sets on every request.
func checkHeaders(r *http.Request, hasBody bool) string {
	switch {
	case r.Header.Get("Accept") != "application/vnd.github.v3+json":
		return "Accept is " + r.Header.Get("Accept")
	case r.Header.Get("X-Github-Api-Version") != "2022-11-28":
		return "X-GitHub-Api-Version is " + r.Header.Get("X-Github-Api-Version")
	case !strings.HasPrefix(r.Header.Get("User-Agent"), "go-github/"):
		return "User-Agent is " + r.Header.Get("User-Agent")
	case hasBody && r.Header.Get("Content-Type") != "application/json":
		return "Content-Type is " + r.Header.Get("Content-Type")
	}
	return ""
}

// authorized checks an API call's token: the PAT or an unexpired
// installation token.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	expires, issued := s.issued[token]
	s.mu.Unlock()
	if ok && token != "" && (token == s.Token || issued && s.Now().Before(expires)) {
		return true
	}
	writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})
	return false
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	if r.URL.RawQuery != "per_page=50" {
		s.t.Errorf("githubtest: list statuses with query %q, want per_page=50", r.URL.RawQuery)
	}
	list := s.Statuses(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha"))
	if len(list) > 50 {
		list = list[:50]
	}
	if list == nil {
		list = []Status{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	var in Status
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return
	}
	switch in.State {
	case "error", "failure", "pending", "success":
	default:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Validation Failed",
			"errors": []map[string]string{{"resource": "Status", "field": "state", "code": "custom", "message": "state is not included in the list"}}})
		return
	}
	if len(r.PathValue("sha")) != 40 {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "No commit found for SHA: " + r.PathValue("sha")})
		return
	}
	in.CreatedAt = s.Now().UTC().Format(time.RFC3339)
	s.AddStatus(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha"), in)
	writeJSON(w, http.StatusCreated, s.Statuses(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha"))[0])
}

func (s *Server) installation(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.appAuthorized(w, r) {
			return
		}
		id, ok := s.Installations[kind+"/"+r.PathValue("owner")]
		if !ok {
			writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "app_id": s.AppID})
	}
}

func (s *Server) accessToken(w http.ResponseWriter, r *http.Request) {
	if !s.appAuthorized(w, r) {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	known := false
	for _, v := range s.Installations {
		known = known || v == id
	}
	if !known {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
		return
	}
	s.mu.Lock()
	token := fmt.Sprintf("ghs_fakeinstallationtoken%016d", len(s.issued)+1)
	expires := s.Now().Add(s.TokenTTL).UTC().Truncate(time.Second)
	s.issued[token] = expires
	s.mu.Unlock()
	writeJSON(w, http.StatusCreated, map[string]any{"token": token, "expires_at": expires.Format(time.RFC3339)})
}

// appAuthorized checks the App JWT: RS256 signed by AppKey, golang-jwt's
// header, issued by AppID, valid now, and living two minutes as Flux's.
func (s *Server) appAuthorized(w http.ResponseWriter, r *http.Request) bool {
	jwt, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if msg := s.checkJWT(jwt); msg != "" {
		s.t.Logf("githubtest: JWT refused: %s", msg)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "A JSON web token could not be decoded", "documentation_url": "https://docs.github.com/rest"})
		return false
	}
	return true
}

func (s *Server) checkJWT(jwt string) string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || s.AppKey == nil {
		return "not a JWT, or no App configured"
	}
	dec := base64.RawURLEncoding
	header, err1 := dec.DecodeString(parts[0])
	payload, err2 := dec.DecodeString(parts[1])
	sig, err3 := dec.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return "bad base64"
	}
	if string(header) != `{"alg":"RS256","typ":"JWT"}` {
		return "header " + string(header)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.AppKey, crypto.SHA256, digest[:], sig); err != nil {
		return "signature: " + err.Error()
	}
	var c struct {
		Iss string `json:"iss"`
		Exp int64  `json:"exp"`
		Iat int64  `json:"iat"`
	}
	d := json.NewDecoder(bytes.NewReader(payload))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return "claims: " + err.Error()
	}
	now := s.Now().Unix()
	switch {
	case c.Iss != strconv.FormatInt(s.AppID, 10):
		return "issuer " + c.Iss
	case c.Exp-c.Iat != 120:
		return "lifetime is not two minutes"
	case c.Iat > now || c.Exp <= now:
		return "not valid now"
	}
	return ""
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
