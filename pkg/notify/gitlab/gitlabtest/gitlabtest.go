// Package gitlabtest is a fake GitLab REST API (v4) for tests: an httptest
// server that plays the calls Herald's GitLab providers make (commit
// statuses, the current user, merge request notes), checks each request
// the way client-go sends it (method, path with the escaped project id,
// query, headers, body) and records every request.
package gitlabtest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// Status is a commit status as the fake stores and lists it.
type Status struct {
	ID          int64  `json:"id"`
	SHA         string `json:"sha"`
	Status      string `json:"status"`
	Name        string `json:"name"`
	Description string `json:"description"`
	CreatedAt   string `json:"created_at"`
}

// Note is a merge request note.
type Note struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	Author Author `json:"author"`
}

// Author is a note's author.
type Author struct {
	ID       int64  `json:"id"`
	Username string `json:"username"`
}

// Server is the fake. Set its fields before the first request.
type Server struct {
	*httptest.Server
	notifytest.Recorder

	// Users maps each accepted PRIVATE-TOKEN to its username.
	Users map[string]string
	// Intercept, if set, may answer a request before the fake does; it
	// returns true when it did.
	Intercept func(w http.ResponseWriter, r *http.Request) bool

	t        testing.TB
	mu       sync.Mutex
	statuses map[string][]Status // project@sha, oldest first
	notes    map[string][]Note   // project!iid, oldest first
	nextID   int64
}

// New starts a fake, closed when the test ends.
func New(t testing.TB) *Server {
	s := &Server{t: t, Users: map[string]string{}, statuses: map[string][]Status{}, notes: map[string][]Note{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/projects/{id}/repository/commits/{sha}/statuses", s.listStatuses)
	mux.HandleFunc("POST /api/v4/projects/{id}/statuses/{sha}", s.createStatus)
	mux.HandleFunc("GET /api/v4/user", s.user)
	mux.HandleFunc("GET /api/v4/projects/{id}/merge_requests/{iid}/notes", s.listNotes)
	mux.HandleFunc("POST /api/v4/projects/{id}/merge_requests/{iid}/notes", s.createNote)
	mux.HandleFunc("PUT /api/v4/projects/{id}/merge_requests/{iid}/notes/{note}", s.updateNote)
	s.Server = httptest.NewServer(s.record(mux))
	t.Cleanup(s.Close)
	return s
}

// Statuses returns the statuses of a commit of project (unescaped path),
// oldest first.
func (s *Server) Statuses(project, sha string) []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses[project+"@"+sha]...)
}

// AddStatus records a status as if someone had set it.
func (s *Server) AddStatus(project string, st Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	st.ID = s.nextID
	st.CreatedAt = time.Now().UTC().Format(time.RFC3339)
	s.statuses[project+"@"+st.SHA] = append(s.statuses[project+"@"+st.SHA], st)
}

// Notes returns the notes of a merge request, oldest first.
func (s *Server) Notes(project string, iid int64) []Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Note(nil), s.notes[project+"!"+strconv.FormatInt(iid, 10)]...)
}

// AddNote records a note as if its author had written it.
func (s *Server) AddNote(project string, iid int64, n Note) Note {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	n.ID = s.nextID
	key := project + "!" + strconv.FormatInt(iid, 10)
	s.notes[key] = append(s.notes[key], n)
	return n
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
			s.t.Errorf("gitlabtest: %s %s: %s", r.Method, r.RequestURI, msg)
			writeJSON(w, http.StatusBadRequest, map[string]string{"message": msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHeaders checks what client-go sets on every request.
func checkHeaders(r *http.Request, hasBody bool) string {
	switch {
	case r.Header.Get("Accept") != "application/json":
		return "Accept is " + r.Header.Get("Accept")
	case r.Header.Get("User-Agent") != "go-gitlab":
		return "User-Agent is " + r.Header.Get("User-Agent")
	case hasBody && r.Header.Get("Content-Type") != "application/json":
		return "Content-Type is " + r.Header.Get("Content-Type")
	}
	return ""
}

// username checks the PRIVATE-TOKEN header and answers 401 if unknown.
func (s *Server) username(w http.ResponseWriter, r *http.Request) (string, bool) {
	name, ok := s.Users[r.Header.Get("Private-Token")]
	if !ok || r.Header.Get("Private-Token") == "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
		return "", false
	}
	return name, true
}

func (s *Server) listStatuses(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.username(w, r); !ok {
		return
	}
	name := r.URL.Query().Get("name")
	var list []Status
	for _, st := range s.Statuses(r.PathValue("id"), r.PathValue("sha")) {
		if name == "" || st.Name == name {
			list = append(list, st)
		}
	}
	if list == nil {
		list = []Status{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) createStatus(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.username(w, r); !ok {
		return
	}
	var in struct {
		State       string `json:"state"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "state is missing"})
		return
	}
	switch in.State {
	case "pending", "running", "success", "failed", "canceled", "skipped":
	default:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "state does not have a valid value"})
		return
	}
	if len(r.PathValue("sha")) != 40 {
		writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Commit Not Found"})
		return
	}
	s.AddStatus(r.PathValue("id"), Status{SHA: r.PathValue("sha"), Status: in.State, Name: in.Name, Description: in.Description})
	list := s.Statuses(r.PathValue("id"), r.PathValue("sha"))
	writeJSON(w, http.StatusCreated, list[len(list)-1])
}

func (s *Server) user(w http.ResponseWriter, r *http.Request) {
	name, ok := s.username(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": 1, "username": name})
}

func (s *Server) listNotes(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.username(w, r); !ok {
		return
	}
	if r.URL.RawQuery != "order_by=created_at&per_page=100&sort=asc" {
		s.t.Errorf("gitlabtest: list notes with query %q", r.URL.RawQuery)
	}
	iid, _ := strconv.ParseInt(r.PathValue("iid"), 10, 64)
	list := s.Notes(r.PathValue("id"), iid)
	if len(list) > 100 {
		list = list[:100]
	}
	if list == nil {
		list = []Note{}
	}
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) noteBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body string `json:"body"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Body == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body is missing"})
		return "", false
	}
	return in.Body, true
}

func (s *Server) createNote(w http.ResponseWriter, r *http.Request) {
	name, ok := s.username(w, r)
	if !ok {
		return
	}
	body, ok := s.noteBody(w, r)
	if !ok {
		return
	}
	iid, _ := strconv.ParseInt(r.PathValue("iid"), 10, 64)
	writeJSON(w, http.StatusCreated, s.AddNote(r.PathValue("id"), iid, Note{Body: body, Author: Author{ID: 1, Username: name}}))
}

func (s *Server) updateNote(w http.ResponseWriter, r *http.Request) {
	name, ok := s.username(w, r)
	if !ok {
		return
	}
	body, ok := s.noteBody(w, r)
	if !ok {
		return
	}
	key := r.PathValue("id") + "!" + r.PathValue("iid")
	id, _ := strconv.ParseInt(r.PathValue("note"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, n := range s.notes[key] {
		if n.ID != id {
			continue
		}
		if n.Author.Username != name {
			writeJSON(w, http.StatusForbidden, map[string]string{"message": "403 Forbidden"})
			return
		}
		s.notes[key][i].Body = body
		writeJSON(w, http.StatusOK, s.notes[key][i])
		return
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "404 Not found"})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
