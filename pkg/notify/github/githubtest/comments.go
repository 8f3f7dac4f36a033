package githubtest

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Accept header go-github sends when it lists issue comments (the
// reactions preview); every other call sends application/vnd.github.v3+json.
const reactionsPreview = "application/vnd.github.squirrel-girl-preview"

// User is a comment's author as the fake lists it.
type User struct {
	Login string `json:"login"`
	ID    int64  `json:"id"`
	Type  string `json:"type"`
}

// Comment is an issue comment as the fake stores and lists it.
type Comment struct {
	ID        int64  `json:"id"`
	Body      string `json:"body"`
	User      User   `json:"user"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

// CommentServer is the fake with the calls of the change-request comment
// provider too: GET /user, GET /app (with the App JWT), and the issue
// comments list, create and edit. Set its fields before the first request.
type CommentServer struct {
	*Server

	// Login is the login of the Server's Token (GET /user); the App's
	// installation tokens write as AppSlug + "[bot]", as on GitHub.
	Login   string
	AppSlug string
	// Intercept, if set, may answer any request before the fake does; it
	// returns true when it did. It takes the place of Server.Intercept,
	// which the comment routes use and which must be left alone.
	Intercept func(w http.ResponseWriter, r *http.Request) bool

	mux      *http.ServeMux
	mu       sync.Mutex
	comments map[string][]Comment // "owner/repo#number", oldest first
}

// NewCommentServer starts a fake with the comment routes, closed when the
// test ends.
func NewCommentServer(t testing.TB) *CommentServer {
	c := &CommentServer{Server: New(t), mux: http.NewServeMux(), comments: map[string][]Comment{}}
	c.mux.HandleFunc("GET "+Prefix+"/user", c.user)
	c.mux.HandleFunc("GET "+Prefix+"/app", c.app)
	c.mux.HandleFunc("GET "+Prefix+"/repos/{owner}/{repo}/issues/{number}/comments", c.list)
	c.mux.HandleFunc("POST "+Prefix+"/repos/{owner}/{repo}/issues/{number}/comments", c.create)
	c.mux.HandleFunc("PATCH "+Prefix+"/repos/{owner}/{repo}/issues/comments/{id}", c.edit)
	c.Server.Intercept = c.route
	return c
}

// route serves the comment routes, with their own header checks, and
// leaves every other request to the Server.
func (c *CommentServer) route(w http.ResponseWriter, r *http.Request) bool {
	if c.Intercept != nil && c.Intercept(w, r) {
		return true
	}
	if _, pattern := c.mux.Handler(r); pattern == "" {
		return false
	}
	accept := "application/vnd.github.v3+json"
	if r.Method == http.MethodGet && r.URL.Path != Prefix+"/user" && r.URL.Path != Prefix+"/app" {
		accept = reactionsPreview
	}
	msg := ""
	if got := r.Header.Get("Accept"); got != accept {
		msg = "Accept is " + got
	} else {
		r2 := r.Clone(r.Context())
		r2.Header.Set("Accept", "application/vnd.github.v3+json")
		msg = checkHeaders(r2, r.ContentLength > 0)
	}
	if msg != "" {
		c.t.Errorf("githubtest: %s %s: %s", r.Method, r.RequestURI, msg)
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": msg})
		return true
	}
	c.mux.ServeHTTP(w, r)
	return true
}

// author is who the request's token writes as: Login for the PAT,
// AppSlug[bot] for an installation token, "" when it is neither.
func (c *CommentServer) author(r *http.Request) User {
	if token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); token == c.Token {
		return User{Login: c.Login, ID: 1, Type: "User"}
	}
	return User{Login: c.AppSlug + "[bot]", ID: 2, Type: "Bot"}
}

func (c *CommentServer) user(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(w, r) {
		return
	}
	u := c.author(r)
	if u.Type == "Bot" {
		// GitHub refuses /user to installation tokens.
		writeJSON(w, http.StatusForbidden, map[string]string{"message": "Resource not accessible by integration"})
		return
	}
	writeJSON(w, http.StatusOK, u)
}

func (c *CommentServer) app(w http.ResponseWriter, r *http.Request) {
	if !c.appAuthorized(w, r) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": c.AppID, "slug": c.AppSlug, "name": c.AppSlug})
}

func (c *CommentServer) list(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(w, r) {
		return
	}
	if r.URL.RawQuery != "direction=asc&per_page=100&sort=created" {
		c.t.Errorf("githubtest: list comments with query %q", r.URL.RawQuery)
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	list := c.Comments(r.PathValue("owner"), r.PathValue("repo"), n)
	if len(list) > 100 {
		list = list[:100]
	}
	if list == nil {
		list = []Comment{}
	}
	writeJSON(w, http.StatusOK, list)
}

// decodeBody reads {"body":...} and nothing else.
func decodeBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Body *string `json:"body"`
	}
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Body == nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "Problems parsing JSON"})
		return "", false
	}
	return *in.Body, true
}

func (c *CommentServer) create(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(w, r) {
		return
	}
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	n, _ := strconv.Atoi(r.PathValue("number"))
	cm := c.AddComment(r.PathValue("owner"), r.PathValue("repo"), n, Comment{Body: body, User: c.author(r)})
	writeJSON(w, http.StatusCreated, cm)
}

func (c *CommentServer) edit(w http.ResponseWriter, r *http.Request) {
	if !c.authorized(w, r) {
		return
	}
	body, ok := decodeBody(w, r)
	if !ok {
		return
	}
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	prefix := r.PathValue("owner") + "/" + r.PathValue("repo") + "#"
	c.mu.Lock()
	defer c.mu.Unlock()
	for key, list := range c.comments {
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		for i := range list {
			if list[i].ID == id {
				list[i].Body = body
				list[i].UpdatedAt = c.Now().UTC().Format(time.RFC3339)
				writeJSON(w, http.StatusOK, list[i])
				return
			}
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]string{"message": "Not Found"})
}

// Comments returns the comments of an issue or pull request, oldest first.
func (c *CommentServer) Comments(owner, repo string, number int) []Comment {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Comment(nil), c.comments[owner+"/"+repo+"#"+strconv.Itoa(number)]...)
}

// AddComment records a comment as if someone had written it, and returns
// it with its id and times.
func (c *CommentServer) AddComment(owner, repo string, number int, cm Comment) Comment {
	// The comment ids share the statuses' counter, under the Server's lock.
	c.Server.mu.Lock()
	c.nextID++
	cm.ID = c.nextID
	c.Server.mu.Unlock()
	if cm.CreatedAt == "" {
		cm.CreatedAt = c.Now().UTC().Format(time.RFC3339)
	}
	cm.UpdatedAt = cm.CreatedAt
	c.mu.Lock()
	defer c.mu.Unlock()
	key := owner + "/" + repo + "#" + strconv.Itoa(number)
	c.comments[key] = append(c.comments[key], cm)
	return cm
}
