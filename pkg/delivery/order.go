package delivery

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

// ReasonSuperseded is the metrics reason of a delivery skipped because a
// newer event already set the same commit status or comment.
const ReasonSuperseded = "superseded"

// orderKey names what job sets on a Git host, for the ordering rule: a
// commit status is one per Provider, commit and status id; a change-request
// comment one per Provider, change request and object, as its marker is.
// ok is false for every other job, and for one that cannot be named (no
// commit, no timestamp), which the provider then refuses or sets as Flux
// would.
func orderKey(job *Job) (key string, ok bool) {
	if job.Event.Timestamp.IsZero() {
		return "", false
	}
	var parts []string
	switch api.ProviderTypeOf(job.ProviderType).Class {
	case api.CommitStatus:
		commit, err := commitstatus.Commit(job.Event)
		if err != nil || job.CommitStatus == "" {
			return "", false
		}
		parts = []string{"status", job.Provider.String(), commit, job.CommitStatus}
	case api.ChangeRequestComment:
		o := job.Event.InvolvedObject
		parts = []string{"comment", job.Provider.String(), job.Event.Metadata[event.MetaChangeRequest], o.Kind, o.Namespace, o.Name}
	default:
		return "", false
	}
	// Hashed, so that a key fits any store's key size whatever the names.
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return parts[0] + "/" + hex.EncodeToString(h.Sum(nil)), true
}
