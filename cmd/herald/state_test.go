package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/delivery"
)

type fakeAdmin struct{ replayed []int }

func (f *fakeAdmin) List(context.Context) ([]delivery.Entry, error) { return nil, nil }
func (f *fakeAdmin) Replay(_ context.Context, max int) (int, error) {
	f.replayed = append(f.replayed, max)
	return 2, nil
}

// The admin socket answers bad and unknown requests with a JSON error
// that says what it serves, and replays only with a valid max.
func TestAdminHandlerRefusesBadRequests(t *testing.T) {
	a := &fakeAdmin{}
	h := adminHandler(a)
	for _, c := range []struct {
		method, target string
		status         int
		body           string
	}{
		{http.MethodGet, "/deliveries", 200, `{"deliveries":[]}`},
		{http.MethodPost, "/replay?max=3", 200, `{"replayed":2}`},
		{http.MethodPost, "/replay?max=-1", 400, `{"error":"max must be a whole number, 0 for all"}`},
		{http.MethodPost, "/replay?max=lots", 400, `{"error":"max must be a whole number, 0 for all"}`},
		{http.MethodPost, "/replay", 400, `{"error":"max must be a whole number, 0 for all"}`},
		{http.MethodDelete, "/deliveries", 404, `{"error":"no DELETE /deliveries here; the admin socket serves GET /deliveries and POST /replay?max=N"}`},
		{http.MethodGet, "/secrets", 404, `{"error":"no GET /secrets here; the admin socket serves GET /deliveries and POST /replay?max=N"}`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.target, nil))
		if w.Code != c.status || (c.body != "" && strings.TrimSpace(w.Body.String()) != c.body) {
			t.Errorf("%s %s: %d %s, want %d %s", c.method, c.target, w.Code, w.Body, c.status, c.body)
		}
	}
	if len(a.replayed) != 1 || a.replayed[0] != 3 {
		t.Errorf("replays %v, want one of max 3", a.replayed)
	}
}
