package notify

import (
	"net/http"

	"github.com/heraldhq/herald/pkg/redirect"
)

// RedirectSafe returns a copy of c (DefaultClient when nil) whose redirects
// follow redirect.Check. The copy shares c's transport, and with it the
// connection pool.
func RedirectSafe(c *http.Client) *http.Client {
	if c == nil {
		c = DefaultClient()
	}
	safe := *c
	safe.CheckRedirect = redirect.Check
	return &safe
}
