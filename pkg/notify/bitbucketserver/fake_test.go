package bitbucketserver_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// fakeStatus is a build status as Bitbucket Server answers it.
type fakeStatus struct {
	Description string `json:"description,omitempty"`
	Key         string `json:"key"`
	Name        string `json:"name,omitempty"`
	State       string `json:"state"`
	URL         string `json:"url"`
	DateAdded   int64  `json:"dateAdded,omitempty"`
}

// fake plays Bitbucket Server's build status REST API under a context
// path, checks each call as Flux makes it (the credentials, Atlassian's
// XSRF headers, no Content-Type on the GET, a JSON body with a trailing
// newline on the POST) and records every request.
type fake struct {
	*httptest.Server
	notifytest.Recorder
	t testing.TB
	// auth is the Authorization value every call must carry.
	auth string
	// intercept, if set, may answer a request first.
	intercept func(w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	statuses map[string]fakeStatus // "<P>/<r>@<sha>/<key>"
}

func newFake(t testing.TB, contextPath, auth string) *fake {
	f := &fake{t: t, auth: auth, statuses: map[string]fakeStatus{}}
	mux := http.NewServeMux()
	prefix := contextPath + "/rest/api/latest/projects/{p}/repos/{r}/commits/{sha}/builds"
	mux.HandleFunc("GET "+prefix, f.get)
	mux.HandleFunc("POST "+prefix, f.create)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Record(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.intercept != nil && f.intercept(w, r) {
			return
		}
		if r.Header.Get("Authorization") != f.auth {
			writeJSON(w, http.StatusUnauthorized, errorsBody("Authentication failed. Please check your credentials and try again."))
			return
		}
		if r.Header.Get("X-Atlassian-Token") != "no-check" || r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
			f.t.Errorf("fake bitbucket server: %s %s without Atlassian's XSRF headers", r.Method, r.RequestURI)
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func errorsBody(msg string) map[string]any {
	return map[string]any{"errors": []map[string]any{{"context": nil, "message": msg, "exceptionName": nil}}}
}

func (f *fake) status(p, r, sha, key string) (fakeStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.statuses[p+"/"+r+"@"+sha+"/"+key]
	return s, ok
}

func (f *fake) put(p, r, sha string, s fakeStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.DateAdded = 1714979289000
	f.statuses[p+"/"+r+"@"+sha+"/"+s.Key] = s
}

func (f *fake) get(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		f.t.Errorf("fake bitbucket server: GET with Content-Type %q", ct)
	}
	s, ok := f.status(r.PathValue("p"), r.PathValue("r"), r.PathValue("sha"), r.URL.Query().Get("key"))
	if !ok {
		writeJSON(w, http.StatusNotFound, errorsBody("No build status with that key exists for this commit."))
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if ct := r.Header.Get("Content-Type"); ct != "application/json" || !bytes.HasSuffix(body, []byte("}\n")) {
		f.t.Errorf("fake bitbucket server: POST with Content-Type %q and body %q", ct, body)
	}
	var in fakeStatus
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.DateAdded != 0 {
		writeJSON(w, http.StatusBadRequest, errorsBody("invalid JSON"))
		return
	}
	switch in.State {
	case "SUCCESSFUL", "FAILED", "INPROGRESS":
	default:
		writeJSON(w, http.StatusBadRequest, errorsBody("state is invalid"))
		return
	}
	if in.Key == "" || len(in.Key) > 255 || !strings.HasPrefix(in.URL, "http") || len(r.PathValue("sha")) != 40 {
		writeJSON(w, http.StatusBadRequest, errorsBody("key, url or commit invalid"))
		return
	}
	f.put(r.PathValue("p"), r.PathValue("r"), r.PathValue("sha"), in)
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
