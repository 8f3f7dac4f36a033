package redirect

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
)

// Check compares scheme, host and port with the first request's,
// the scheme's default port standing for an absent one.
func TestCheck(t *testing.T) {
	get := func(raw string) *http.Request {
		r, err := http.NewRequest(http.MethodGet, raw, nil)
		if err != nil {
			t.Fatal(err)
		}
		r.Response = &http.Response{StatusCode: http.StatusTemporaryRedirect}
		return r
	}
	for _, tc := range []struct {
		from, to string
		want     string // "" follows
	}{
		{"https://hooks.example/a", "https://hooks.example/b?x=1", ""},
		{"https://hooks.example/a", "https://HOOKS.example:443/b", ""},
		{"http://hooks.example:80/a", "http://hooks.example/b", ""},
		{"https://hooks.example/a", "https://elsewhere.example/a", "https://elsewhere.example"},
		{"https://hooks.example/a", "https://hooks.example:8443/a", "https://hooks.example:8443"},
		{"https://hooks.example/a", "http://hooks.example/a", "http://hooks.example"},
		{"http://hooks.example/a", "https://hooks.example/a", "https://hooks.example"},
		{"https://hooks.example/a", "https://user:pw@sub.hooks.example/s3cr3t?token=x", "https://sub.hooks.example"},
		{"https://[::1]:8443/a", "https://[::1]:8443/b", ""},
		{"https://[::1]:8443/a", "https://[::2]:8443/b", "https://[::2]:8443"},
	} {
		t.Run(tc.from+" to "+tc.to, func(t *testing.T) {
			req := get(tc.to)
			req.Header.Set("Referer", tc.from)
			err := Check(req, []*http.Request{get(tc.from)})
			if req.Header.Get("Referer") != "" {
				t.Error("the Referer stays")
			}
			if tc.want == "" {
				if err != nil {
					t.Errorf("Check = %v, want nil", err)
				}
				return
			}
			var re *Error
			if !errors.As(err, &re) || re.Target != tc.want || re.Status != 307 || !errors.Is(err, ErrNotFollowed) {
				t.Fatalf("Check = %#v, want an Error to %s", err, tc.want)
			}
		})
	}
	via := make([]*http.Request, Max)
	for i := range via {
		via[i] = get("https://hooks.example/" + strconv.Itoa(i))
	}
	if err := Check(get("https://hooks.example/x"), via); err == nil || err.Error() != "stopped after 10 redirects" {
		t.Errorf("the eleventh hop: %v", err)
	}
}
