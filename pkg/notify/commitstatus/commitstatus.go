// Package commitstatus holds what every Git commit-status provider shares,
// independent of the host (behaviour reference §4.3, Flux's
// internal/notifier/util.go and internal/server/provider_commit_status.go):
// which events reach such a provider, the status id, the commit, the state,
// the description and name, Bitbucket's key, repository address parsing and
// spec.commitStatusExpr. Everything here is a pure function over values.
package commitstatus

import (
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
)

// StatusNotifier is a commit-status provider; see notify.StatusNotifier.
type StatusNotifier = notify.StatusNotifier

// Host is a commit-status provider type.
type Host string

// The commit-status provider types, as Flux names them.
const (
	GitHub          Host = "github"
	GitLab          Host = "gitlab"
	Gitea           Host = "gitea"
	Bitbucket       Host = "bitbucket"
	BitbucketServer Host = "bitbucketserver"
	AzureDevOps     Host = "azuredevops"
)

// Hosts lists every commit-status provider type.
var Hosts = []Host{GitHub, GitLab, Gitea, Bitbucket, BitbucketServer, AzureDevOps}

// IsHost reports whether a provider type sets commit statuses.
func IsHost(providerType string) bool {
	for _, h := range Hosts {
		if string(h) == providerType {
			return true
		}
	}
	return false
}

// ReasonProgressing is the reason of the events that only Gitea turns into a
// status (pending); every other host skips them.
const ReasonProgressing = "Progressing"

// Receives applies steps 4 and 5 of §2.2 for a commit-status provider: an
// event reaches it only when it carries a non-empty commit annotation
// (event.toolkit.fluxcd.io/commit), is a commit status update
// (<group>/commit_status: update) or is an error. ev is the event with its
// cleaned metadata, before the metadata is combined (§2.3), as Flux checks
// it. Flux logs "event dropped for commit status providers due to missing
// commit metadata key" when this is false.
func Receives(ev *event.Event) bool {
	return ev.Metadata[event.AnnotationPrefix+event.MetaCommit] != "" ||
		ev.IsCommitStatusUpdate() ||
		ev.Severity == event.SeverityError
}

// DefaultID is the status id when the Provider has no commitStatusExpr:
// lower(Kind/name/<providerUID up to its first "-">).
func DefaultID(providerUID string, ev event.Event) string {
	uid, _, _ := strings.Cut(providerUID, "-")
	return strings.ToLower(ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name + "/" + uid)
}

// Name is lower(Kind/name), which Bitbucket shows as the status name.
func Name(ev event.Event) string {
	return strings.ToLower(ev.InvolvedObject.Kind + "/" + ev.InvolvedObject.Name)
}

// Description is the reason split into camel-case words, joined by spaces
// and lowercased: HealthCheckFailed gives "health check failed". Flux does
// not truncate it, and neither does Herald.
func Description(ev event.Event) string {
	return strings.ToLower(strings.Join(SplitCamelCase(ev.Reason), " "))
}

// Key is Bitbucket's status key: the lowercase hex SHA-1 of the status id,
// since Bitbucket limits keys to 40 characters.
func Key(statusID string) string {
	sum := sha1.Sum([]byte(statusID))
	return hex.EncodeToString(sum[:])
}

// Status is what a host is asked to set on a commit.
type Status struct {
	Commit      string
	State       string
	Description string
	ID          string
}

// For prepares the status host sets for ev, in Flux's order: an empty
// status id is refused, a Progressing event is skipped (skip is true;
// Gitea sets "pending" instead), then the commit is extracted and the
// severity mapped to the host's state. Its errors are Flux's texts, and
// permanent: no later attempt can change them. A provider returns
// (false, err) when skip is true or err is set.
func For(h Host, ev event.Event, statusID string) (s Status, skip bool, err error) {
	if statusID == "" {
		return Status{}, false, notify.Permanent(errors.New("commit status cannot be empty"))
	}
	if ev.Reason == ReasonProgressing && h != Gitea {
		return Status{}, true, nil
	}
	commit, err := Commit(ev)
	if err != nil {
		return Status{}, false, notify.Permanent(err)
	}
	state, err := State(h, ev)
	if err != nil {
		return Status{}, false, notify.Permanent(err)
	}
	return Status{Commit: commit, State: state, Description: Description(ev), ID: statusID}, false, nil
}

// State maps ev to host h's status state: info is success, error is
// failure, in each host's words, and Gitea maps a Progressing event to
// pending. Other severities give Flux's error for the host.
func State(h Host, ev event.Event) (string, error) {
	if h == Gitea && ev.Reason == ReasonProgressing {
		return "pending", nil
	}
	m, ok := states[h]
	if !ok {
		return "", errors.New("not a commit status provider type")
	}
	switch ev.Severity {
	case event.SeverityInfo:
		return m.success, nil
	case event.SeverityError:
		return m.failure, nil
	}
	return "", errors.New(m.err)
}

var states = map[Host]struct{ success, failure, err string }{
	GitHub:          {"success", "failure", "can't convert to github state"},
	GitLab:          {"success", "failed", "can't convert to gitlab state"},
	Gitea:           {"success", "failure", "can't convert to gitea state"},
	Bitbucket:       {"SUCCESSFUL", "FAILED", "can't convert to bitbucket state"},
	BitbucketServer: {"SUCCESSFUL", "FAILED", "bitbucket server state generated on info or error events only"},
	AzureDevOps:     {"succeeded", "error", "can't convert to azure devops state"},
}

// SplitCamelCase splits src into runs of lower-case letters, upper-case
// letters, digits and other characters, moving the last capital of a run of
// capitals to the lower-case run after it ("PDFLoader" gives "PDF",
// "Loader"). Invalid UTF-8 is returned whole. It is Flux's splitCamelcase.
func SplitCamelCase(src string) []string {
	if !utf8.ValidString(src) {
		return []string{src}
	}
	var runes [][]rune
	lastClass := 0
	for _, r := range src {
		var class int
		switch {
		case unicode.IsLower(r):
			class = 1
		case unicode.IsUpper(r):
			class = 2
		case unicode.IsDigit(r):
			class = 3
		default:
			class = 4
		}
		if class == lastClass {
			runes[len(runes)-1] = append(runes[len(runes)-1], r)
		} else {
			runes = append(runes, []rune{r})
		}
		lastClass = class
	}
	for i := 0; i < len(runes)-1; i++ {
		if unicode.IsUpper(runes[i][0]) && unicode.IsLower(runes[i+1][0]) {
			runes[i+1] = append([]rune{runes[i][len(runes[i])-1]}, runes[i+1]...)
			runes[i] = runes[i][:len(runes[i])-1]
		}
	}
	entries := []string{}
	for _, s := range runes {
		if len(s) > 0 {
			entries = append(entries, string(s))
		}
	}
	return entries
}
