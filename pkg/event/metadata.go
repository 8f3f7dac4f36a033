package event

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// CleanMetadata keeps only the metadata keys Flux's event server keeps: those
// of the object's annotations (event.toolkit.fluxcd.io/) and those of the
// reporting controller (the involved object's group followed by "/"). It then
// drops the controller's checksum and digest keys, compared without case. The
// map is edited in place; an empty result becomes nil.
func (e *Event) CleanMetadata() {
	if len(e.Metadata) == 0 {
		e.Metadata = nil
		return
	}
	groupPrefix := e.Group() + "/"
	checksum := groupPrefix + MetaChecksum
	digest := groupPrefix + MetaDigest
	for k := range e.Metadata {
		keep := strings.HasPrefix(k, AnnotationPrefix) || strings.HasPrefix(k, groupPrefix)
		if !keep || strings.EqualFold(k, checksum) || strings.EqualFold(k, digest) {
			delete(e.Metadata, k)
		}
	}
	if len(e.Metadata) == 0 {
		e.Metadata = nil
	}
}

// ControllerKey is the metadata key the reporting controller uses for suffix.
func (e *Event) ControllerKey(suffix string) string {
	return e.Group() + "/" + suffix
}

// DropToken removes the controller's de-duplication token, which Flux uses for
// rate limiting only and never passes to providers.
func (e *Event) DropToken() {
	delete(e.Metadata, e.ControllerKey(MetaToken))
	if len(e.Metadata) == 0 {
		e.Metadata = nil
	}
}

// IsCommitStatusUpdate reports whether the controller marked the event as a
// commit status update (G/commit_status: update) in the cleaned metadata.
func (e *Event) IsCommitStatusUpdate() bool {
	return e.Metadata[e.ControllerKey(MetaCommitStatus)] == "update"
}

// DedupKey is Flux's rate-limit key: the lowercase hex SHA-256 of
// event/name=N/namespace=NS/kind=K/message=M, followed by
// originRevision=, revision= and token= for those controller metadata keys
// present in the cleaned metadata. Severity, reason, timestamp and other
// metadata do not count.
func (e *Event) DedupKey() string {
	h := sha256.New()
	write := func(s ...string) {
		for _, part := range s {
			h.Write([]byte(part))
		}
	}
	write("event/name=", e.InvolvedObject.Name,
		"/namespace=", e.InvolvedObject.Namespace,
		"/kind=", e.InvolvedObject.Kind,
		"/message=", e.Message)
	if len(e.Metadata) > 0 {
		for _, suffix := range [...]string{MetaOriginRevision, MetaRevision, MetaToken} {
			if v, ok := e.Metadata[e.ControllerKey(suffix)]; ok {
				write("/", suffix, "=", v)
			}
		}
	}
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0]))
}
