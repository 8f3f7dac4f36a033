package notify_test

import (
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

func TestMarkdownPost(t *testing.T) {
	// The event of Flux's zulip_test.go, whose expected contents are the
	// first two cases.
	fluxEvent := func(severity string) event.Event {
		return event.Event{
			InvolvedObject: event.ObjectReference{Kind: "Kustomization", Name: "test-ks", Namespace: "default"},
			Severity:       severity,
			Message:        "Test event message",
			Metadata:       map[string]string{"key2": "value2", "key1": "value1"},
		}
	}
	withMetadata := func(ev event.Event, md map[string]string) event.Event {
		ev.Metadata = md
		return ev
	}
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{
			name: "flux info",
			ev:   fluxEvent(event.SeverityInfo),
			want: "## Flux Status\n\nℹ️ Kustomization/default/test-ks\n\nTest event message\n\nMetadata:\n* `key1`: value1\n* `key2`: value2\n",
		},
		{
			name: "flux error",
			ev:   fluxEvent(event.SeverityError),
			want: "## Flux Status\n\n⚠️ Kustomization/default/test-ks\n\nTest event message\n\nMetadata:\n* `key1`: value1\n* `key2`: value2\n",
		},
		{
			name: "reference event",
			ev:   notifytest.ReferenceEvent(event.SeverityInfo, true),
			want: "## Flux Status\n\n\u2139\ufe0f Kustomization/flux-system/podinfo\n\nApplied revision: " + notifytest.Revision +
				"\n\nMetadata:\n* `revision`: " + notifytest.Revision + "\n",
		},
		{
			name: "no metadata keeps the heading",
			ev:   notifytest.ReferenceEvent(event.SeverityError, false),
			want: "## Flux Status\n\n\u26a0\ufe0f Kustomization/flux-system/podinfo\n\nApplied revision: " + notifytest.Revision + "\n\nMetadata:\n",
		},
		{
			name: "trace is not an error",
			ev:   withMetadata(fluxEvent(event.SeverityTrace), nil),
			want: "## Flux Status\n\nℹ️ Kustomization/default/test-ks\n\nTest event message\n\nMetadata:\n",
		},
		{
			name: "sorted, change_request left out, values raw",
			ev: withMetadata(fluxEvent(event.SeverityInfo), map[string]string{
				"zeta": "<b>&", "change_request": "42", "alpha": "1", "Beta": "2",
			}),
			want: "## Flux Status\n\nℹ️ Kustomization/default/test-ks\n\nTest event message\n\nMetadata:\n* `Beta`: 2\n* `alpha`: 1\n* `zeta`: <b>&\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := notify.MarkdownPost(tc.ev); got != tc.want {
				t.Errorf("got\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}
