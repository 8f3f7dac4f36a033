package bitbucket_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// fakeStatus is a build status as Bitbucket Cloud stores and answers it.
type fakeStatus struct {
	Type        string `json:"type,omitempty"`
	Key         string `json:"key"`
	URL         string `json:"url"`
	State       string `json:"state"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// fake plays the two calls of Bitbucket Cloud's REST API 2.0 that Flux
// makes, checks them as go-bitbucket sends them (basic auth, no
// Content-Type on the GET, a JSON body on the POST) and records every
// request.
type fake struct {
	*httptest.Server
	notifytest.Recorder
	t          testing.TB
	user, pass string
	// intercept, if set, may answer a request first; it returns true when
	// it did.
	intercept func(w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	statuses map[string]fakeStatus // "<o>/<r>@<sha>/<key>"
}

func newFake(t testing.TB, user, pass string) *fake {
	f := &fake{t: t, user: user, pass: pass, statuses: map[string]fakeStatus{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2.0/repositories/{o}/{r}/commit/{sha}/statuses/build/{key}", f.get)
	mux.HandleFunc("POST /2.0/repositories/{o}/{r}/commit/{sha}/statuses/build", f.create)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Record(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.intercept != nil && f.intercept(w, r) {
			return
		}
		want := "Basic " + base64.StdEncoding.EncodeToString([]byte(f.user+":"+f.pass))
		if r.Header.Get("Authorization") != want {
			writeJSON(w, http.StatusUnauthorized, map[string]any{"type": "error", "error": map[string]string{"message": "Unauthorized"}})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) status(o, r, sha, key string) (fakeStatus, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.statuses[o+"/"+r+"@"+sha+"/"+key]
	return s, ok
}

func (f *fake) put(o, r, sha string, s fakeStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s.Type = "build"
	f.statuses[o+"/"+r+"@"+sha+"/"+s.Key] = s
}

func (f *fake) get(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		f.t.Errorf("fake bitbucket: GET with Content-Type %q", ct)
	}
	s, ok := f.status(r.PathValue("o"), r.PathValue("r"), r.PathValue("sha"), r.PathValue("key"))
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"type": "error", "error": map[string]string{"message": "Commit status not found"}})
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Errorf("fake bitbucket: POST with Content-Type %q", ct)
	}
	var in fakeStatus
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Type != "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"type": "error", "error": map[string]string{"message": "Bad request"}})
		return
	}
	switch in.State {
	case "SUCCESSFUL", "FAILED", "INPROGRESS", "STOPPED":
	default:
		writeJSON(w, http.StatusBadRequest, map[string]any{"type": "error", "error": map[string]string{"message": "state: invalid"}})
		return
	}
	if len(in.Key) > 40 || in.URL == "" || len(r.PathValue("sha")) != 40 || strings.Contains(in.Key, "/") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"type": "error", "error": map[string]string{"message": "key, url or commit invalid"}})
		return
	}
	f.put(r.PathValue("o"), r.PathValue("r"), r.PathValue("sha"), in)
	s, _ := f.status(r.PathValue("o"), r.PathValue("r"), r.PathValue("sha"), in.Key)
	writeJSON(w, http.StatusCreated, s)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
