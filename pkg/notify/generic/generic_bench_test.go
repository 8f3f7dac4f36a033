package generic_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/generic"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

// BenchmarkNotify measures one delivery over a reused connection, the steady
// state of a warm Lambda: allocs/op is the cost Herald adds per event.
func BenchmarkNotify(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	for name, factory := range map[string]notify.Factory{"generic": generic.New, "generic-hmac": generic.NewHMAC} {
		b.Run(name, func(b *testing.B) {
			n, err := factory(notify.Config{
				Address: notify.Secret(srv.URL + "/hook"),
				Token:   "secret",
				Headers: map[string]notify.Secret{"Authorization": "Bearer token"},
			})
			if err != nil {
				b.Fatal(err)
			}
			ev := notifytest.ReferenceEvent(event.SeverityInfo, true)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Notify(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
