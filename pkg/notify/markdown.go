package notify

import (
	"maps"
	"slices"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
)

// Severity icons of the Markdown post: U+2139 and U+26A0, each followed by
// the emoji variation selector U+FE0F, as Flux writes them.
const (
	markdownInfoIcon  = "\u2139\ufe0f"
	markdownErrorIcon = "\u26a0\ufe0f"
)

// MarkdownPost renders ev as Flux's shared Markdown post
// (internal/notifier/markdown.go), the message of zulip and the body of the
// change-request comment providers:
//
//	## Flux Status
//
//	ℹ️ Kustomization/flux-system/podinfo
//
//	<message>
//
//	Metadata:
//	* `revision`: main@sha1:…
//
// The object is Kind/namespace/name, with the Kind's case kept. Metadata
// keys are sorted, and change_request is left out: the comment providers
// already post on that change request.
func MarkdownPost(ev event.Event) string {
	icon := markdownInfoIcon
	if ev.Severity == event.SeverityError {
		icon = markdownErrorIcon
	}
	obj := ev.InvolvedObject
	var b strings.Builder
	b.WriteString("## Flux Status\n\n")
	b.WriteString(icon + " " + obj.Kind + "/" + obj.Namespace + "/" + obj.Name + "\n\n")
	b.WriteString(ev.Message + "\n\nMetadata:\n")
	for _, k := range slices.Sorted(maps.Keys(ev.Metadata)) {
		if k == event.MetaChangeRequest {
			continue
		}
		b.WriteString("* `" + k + "`: " + ev.Metadata[k] + "\n")
	}
	return b.String()
}
