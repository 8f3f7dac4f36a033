// Package giteatest is a fake Gitea REST API (v1) for tests: an httptest
// server that plays the calls Herald's Gitea providers make (the version
// handshake, the current user, commit statuses, issue comments), checks
// each request the way the Gitea SDK sends it and records every request.
package giteatest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// Status is a commit status as Gitea lists it: its state is "status".
type Status struct {
	ID          int64  `json:"id"`
	State       string `json:"status"`
	TargetURL   string `json:"target_url"`
	Description string `json:"description"`
	Context     string `json:"context"`
}

// Comment is an issue or pull request comment.
type Comment struct {
	ID   int64  `json:"id"`
	Body string `json:"body"`
	User User   `json:"user"`
}

// User is a comment's poster.
type User struct {
	ID    int64  `json:"id"`
	Login string `json:"login"`
}

// Server is the fake. Set its fields before the first request.
type Server struct {
	*httptest.Server
	notifytest.Recorder

	// Version is what GET /api/v1/version answers; 1.22.0 by default.
	Version string
	// Users maps each accepted token to its login.
	Users map[string]string
	// Intercept, if set, may answer a request before the fake does.
	Intercept func(w http.ResponseWriter, r *http.Request) bool

	t        testing.TB
	mu       sync.Mutex
	statuses map[string][]Status  // owner/repo@sha, newest first
	comments map[string][]Comment // owner/repo#n, oldest first
	nextID   int64
}

// New starts a fake, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, Version: "1.22.0", Users: map[string]string{}, statuses: map[string][]Status{}, comments: map[string][]Comment{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"version": s.Version})
	})
	mux.HandleFunc("GET /api/v1/user", s.user)
	mux.HandleFunc("GET /api/v1/repos/{owner}/{repo}/commits/{sha}/statuses", s.listStatuses)
	mux.HandleFunc("POST /api/v1/repos/{owner}/{repo}/statuses/{sha}", s.createStatus)
	mux.HandleFunc("GET /api/v1/repos/{owner}/{repo}/issues/{n}/comments", s.listComments)
	mux.HandleFunc("POST /api/v1/repos/{owner}/{repo}/issues/{n}/comments", s.createComment)
	mux.HandleFunc("PATCH /api/v1/repos/{owner}/{repo}/issues/comments/{id}", s.editComment)
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

// AddStatus records a status as if someone had set it.
func (s *Server) AddStatus(owner, repo, sha string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	st.ID = s.nextID
	key := owner + "/" + repo + "@" + sha
	s.statuses[key] = append([]Status{st}, s.statuses[key]...)
}

// Comments returns the comments of an issue or pull request, oldest first.
func (s *Server) Comments(owner, repo string, n int64) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Comment(nil), s.comments[owner+"/"+repo+"#"+strconv.FormatInt(n, 10)]...)
}

// AddComment records a comment as if its poster had written it.
func (s *Server) AddComment(owner, repo string, n int64, c Comment) Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	c.ID = s.nextID
	key := owner + "/" + repo + "#" + strconv.FormatInt(n, 10)
	s.comments[key] = append(s.comments[key], c)
	return c
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
		if r.ContentLength != 0 && r.Header.Get("Content-Type") != "application/json" {
			s.t.Errorf("giteatest: %s %s: Content-Type is %q", r.Method, r.RequestURI, r.Header.Get("Content-Type"))
		}
		if r.URL.Path != "/api/v1/version" {
			if _, ok := s.login(w, r); !ok {
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// login checks Authorization: token <token>.
func (s *Server) login(w http.ResponseWriter, r *http.Request) (string, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "token ")
	name, known := s.Users[token]
	if !ok || token == "" || !known {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "user does not exist [uid: 0, name: ]"})
		return "", false
	}
	return name, true
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	name, _ := s.login(w, r)
	writeJSON(w, http.StatusOK, User{ID: 1, Login: name})
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "limit=50&page=1" {
		s.t.Errorf("giteatest: list statuses with query %q", r.URL.RawQuery)
	}
	list := s.Statuses(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha"))
	if list == nil {
		list = []Status{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		State       string `json:"state"`
		TargetURL   string `json:"target_url"`
		Description string `json:"description"`
		Context     string `json:"context"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": err.Error()})
		return
	}
	switch in.State {
	case "pending", "success", "error", "failure", "warning":
	default:
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "invalid state"})
		return
	}
	st := Status{State: in.State, TargetURL: in.TargetURL, Description: in.Description, Context: in.Context}
	s.AddStatus(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha"), st)
	writeJSON(w, http.StatusCreated, s.Statuses(r.PathValue("owner"), r.PathValue("repo"), r.PathValue("sha"))[0])
}

func (s *Server) listComments(w http.ResponseWriter, r *http.Request) {
	if r.URL.RawQuery != "limit=100&page=1" {
		s.t.Errorf("giteatest: list comments with query %q", r.URL.RawQuery)
	}
	n, _ := strconv.ParseInt(r.PathValue("n"), 10, 64)
	list := s.Comments(r.PathValue("owner"), r.PathValue("repo"), n)
	if len(list) > 100 {
		list = list[:100]
	}
	if list == nil {
		list = []Comment{}
	}
	writeJSON(w, http.StatusOK, list)
}

func commentBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body string `json:"body"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Body == "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"message": "body is required"})
		return "", false
	}
	return in.Body, true
}

func (s *Server) createComment(w http.ResponseWriter, r *http.Request) {
	name, _ := s.login(w, r)
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	n, _ := strconv.ParseInt(r.PathValue("n"), 10, 64)
	writeJSON(w, http.StatusCreated, s.AddComment(r.PathValue("owner"), r.PathValue("repo"), n, Comment{Body: body, User: User{ID: 1, Login: name}}))
}

func (s *Server) editComment(w http.ResponseWriter, r *http.Request) {
	name, _ := s.login(w, r)
	body, ok := commentBody(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	prefix := r.PathValue("owner") + "/" + r.PathValue("repo") + "#"
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, list := range s.comments {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		for i, c := range list {
			if c.ID != id {
				continue
			}
			if c.User.Login != name {
				writeJSON(w, http.StatusForbidden, map[string]string{"message": "user should be the poster"})
				return
			}
			list[i].Body = body
			writeJSON(w, http.StatusOK, list[i])
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "comment not found"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
