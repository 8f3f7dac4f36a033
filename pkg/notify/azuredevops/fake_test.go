package azuredevops_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// statusesLocation is the resource location of commit statuses, as Azure
// DevOps answers the SDK's discovery.
const statusesLocation = "428dd4fb-fda5-4722-af02-9313b80305da"

type fakeContext struct {
	Genre string `json:"genre,omitempty"`
	Name  string `json:"name"`
}

// fakeStatus is a commit status as Azure DevOps stores and lists it.
type fakeStatus struct {
	ID          int          `json:"id,omitempty"`
	State       string       `json:"state"`
	Description string       `json:"description,omitempty"`
	Context     *fakeContext `json:"context"`
	CreatedBy   any          `json:"createdBy,omitempty"`
}

// fake plays Azure DevOps for the SDK: location discovery at
// OPTIONS /{org}/_apis, and the commit statuses of /{org}/{project}/_apis/git.
// It checks the PAT and the SDK's headers and records every request.
type fake struct {
	*httptest.Server
	notifytest.Recorder
	t   testing.TB
	org string
	pat string
	// intercept, if set, may answer a request first.
	intercept func(w http.ResponseWriter, r *http.Request) bool

	mu       sync.Mutex
	statuses map[string][]fakeStatus // "<project>/<repo>@<sha>", newest first
	nextID   int
}

func newFake(t testing.TB, org, pat string) *fake {
	f := &fake{t: t, org: org, pat: pat, statuses: map[string][]fakeStatus{}}
	mux := http.NewServeMux()
	mux.HandleFunc("OPTIONS /"+org+"/_apis", f.locations)
	mux.HandleFunc("GET /"+org+"/{project}/_apis/git/repositories/{repo}/commits/{sha}/statuses", f.list)
	mux.HandleFunc("POST /"+org+"/{project}/_apis/git/repositories/{repo}/commits/{sha}/statuses", f.create)
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f.Record(r); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if f.intercept != nil && f.intercept(w, r) {
			return
		}
		if r.Header.Get("Authorization") != "Basic "+base64.StdEncoding.EncodeToString([]byte(":"+f.pat)) {
			// Azure DevOps answers a bad PAT with 401 and an HTML page.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "<html><title>Access Denied</title></html>")
			return
		}
		if r.Header.Get("X-Tfs-Fedauthredirect") != "Suppress" || r.Header.Get("X-Tfs-Session") == "" ||
			!strings.Contains(r.Header.Get("User-Agent"), "azure-devops-go-api/") {
			f.t.Errorf("fake azure devops: %s %s without the SDK's headers: %v", r.Method, r.RequestURI, r.Header)
		}
		w.Header().Set("X-TFS-Session", "5f2a6a5e-0000-4000-8000-000000000001")
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) statusesOf(project, repo, sha string) []fakeStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeStatus(nil), f.statuses[project+"/"+repo+"@"+sha]...)
}

func (f *fake) add(project, repo, sha string, s fakeStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	s.ID = f.nextID
	k := project + "/" + repo + "@" + sha
	f.statuses[k] = append([]fakeStatus{s}, f.statuses[k]...)
}

func (f *fake) locations(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Accept") != "application/json" {
		f.t.Errorf("fake azure devops: discovery with Accept %q", r.Header.Get("Accept"))
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": 1, "value": []map[string]any{{
		"id": statusesLocation, "area": "git", "resourceName": "statuses",
		"routeTemplate":   "{project}/_apis/{area}/repositories/{repositoryId}/commits/{commitId}/{resource}",
		"resourceVersion": 1, "minVersion": "1.0", "maxVersion": "7.1", "releasedVersion": "7.0",
	}}})
}

func (f *fake) checkVersion(r *http.Request) {
	if a := r.Header.Get("Accept"); a != "application/json;api-version=7.1-preview.1" {
		f.t.Errorf("fake azure devops: %s with Accept %q", r.Method, a)
	}
}

func (f *fake) list(w http.ResponseWriter, r *http.Request) {
	f.checkVersion(r)
	l := f.statusesOf(r.PathValue("project"), r.PathValue("repo"), r.PathValue("sha"))
	if l == nil {
		l = []fakeStatus{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"count": len(l), "value": l})
}

func (f *fake) create(w http.ResponseWriter, r *http.Request) {
	f.checkVersion(r)
	if ct := r.Header.Get("Content-Type"); ct != "application/json;charset=utf-8" {
		f.t.Errorf("fake azure devops: POST with Content-Type %q", ct)
	}
	var in fakeStatus
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || in.Context == nil || in.Context.Name == "" || in.ID != 0 {
		writeJSON(w, http.StatusBadRequest, wrappedError(fmt.Sprintf("invalid status: %v", err)))
		return
	}
	switch in.State {
	case "succeeded", "failed", "error", "pending", "notSet", "notApplicable":
	default:
		writeJSON(w, http.StatusBadRequest, wrappedError("invalid state"))
		return
	}
	if len(r.PathValue("sha")) != 40 {
		writeJSON(w, http.StatusNotFound, wrappedError("TF401175: The commit could not be found."))
		return
	}
	in.CreatedBy = map[string]string{"displayName": "flux"}
	f.add(r.PathValue("project"), r.PathValue("repo"), r.PathValue("sha"), in)
	writeJSON(w, http.StatusCreated, f.statusesOf(r.PathValue("project"), r.PathValue("repo"), r.PathValue("sha"))[0])
}

func wrappedError(msg string) map[string]any {
	return map[string]any{"$id": "1", "innerException": nil, "message": msg,
		"typeName": "Microsoft.TeamFoundation.Git.Server.GitItemNotFoundException", "typeKey": "GitItemNotFoundException", "errorCode": 0, "eventId": 3000}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
