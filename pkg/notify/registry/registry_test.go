package registry_test

import (
	"context"
	"slices"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
	"github.com/heraldhq/herald/pkg/notify/registry"
)

func TestTypes(t *testing.T) {
	if got, want := registry.Types(), []string{"generic", "generic-hmac", "slack"}; !slices.Equal(got, want) {
		t.Errorf("Types() = %v, want %v", got, want)
	}
}

func TestUnknownType(t *testing.T) {
	_, err := registry.New(notify.Config{Type: "pigeon"})
	const want = "provider pigeon not supported (supported: generic, generic-hmac, slack)"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %q", err, want)
	}
}

// Every registered type builds from a resolved config and delivers.
func TestEveryTypeDelivers(t *testing.T) {
	for _, typ := range registry.Types() {
		t.Run(typ, func(t *testing.T) {
			sink := notifytest.NewSink(t, nil)
			n, err := registry.New(notify.Config{Type: typ, Address: notify.Secret(sink.URL), Token: "key"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := n.Notify(context.Background(), notifytest.ReferenceEvent(event.SeverityInfo, true)); err != nil {
				t.Fatal(err)
			}
			if len(sink.Requests()) != 1 {
				t.Errorf("sink got %d requests", len(sink.Requests()))
			}
		})
	}
}
