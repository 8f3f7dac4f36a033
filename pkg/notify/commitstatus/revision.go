package commitstatus

import (
	"errors"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/pkg/event"
)

// Commit returns the commit a status goes on: the hash of the (combined,
// unprefixed) commit, originRevision or revision metadata, in that order of
// preference, as Flux's GetRevision and parseRevision find it.
func Commit(ev event.Event) (string, error) {
	rev, ok := ev.GetRevision()
	if !ok {
		return "", errors.New("missing revision metadata")
	}
	return ExtractCommit(rev)
}

// ExtractCommit returns the SHA-1 hash of a Flux revision: what follows the
// last ":" ("main@sha1:<hash>"), else the last "/" segment of a legacy
// revision ("main/<hash>"), else the whole string. It must be 40 characters
// long; SHA-256 commits are not supported, as in Flux. The steps are those of
// fluxcd/pkg/git's TransformRevision and ExtractHashFromRevision, quirks
// included, so that the same revisions pass.
func ExtractCommit(rev string) (string, error) {
	h := extractHash(transformRevision(rev))
	if len(h) != 40 {
		return "", fmt.Errorf("failed to extract commit hash from '%s' revision", rev)
	}
	return h, nil
}

// transformRevision turns a legacy "<pointer>/<hash>" revision into
// "<pointer>@<algorithm>:<hash>" (fluxcd/pkg/git TransformRevision).
func transformRevision(rev string) string {
	if rev == "" || strings.LastIndex(rev, ":") >= 0 {
		return rev
	}
	pointer, hash := namedPointer(rev), extractHash(rev)
	digest := ""
	if hash != "" {
		algorithm := "<unknown>"
		if len(hash) == 40 {
			algorithm = "sha1"
		}
		digest = algorithm + ":" + hash
	}
	if pointer == "" {
		return digest
	}
	return pointer + "@" + digest
}

// namedPointer is fluxcd/pkg/git ExtractNamedPointerFromRevision.
func namedPointer(rev string) string {
	if i := strings.LastIndex(rev, "@"); i != -1 {
		return rev[:i]
	}
	if i := strings.LastIndex(rev, "/"); i != -1 {
		if s := rev[:i]; s != "HEAD" {
			return s
		}
	}
	return ""
}

// extractHash is fluxcd/pkg/git ExtractHashFromRevision.
func extractHash(rev string) string {
	if rev == "" {
		return ""
	}
	if i := strings.LastIndex(rev, ":"); i != -1 {
		return rev[i+1:]
	}
	if i := strings.LastIndex(rev, "/"); i != -1 {
		return rev[i+1:]
	}
	return rev
}
