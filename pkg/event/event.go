// Package event holds Herald's Flux event: the same JSON as Flux's
// event.toolkit.fluxcd.io Event, in both of its versions (v1beta1 and v1),
// the metadata clean-up Flux's event server applies, and the de-duplication
// key.
package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Severities Flux sends. The server does not reject others, as Flux does not.
const (
	SeverityTrace = "trace"
	SeverityInfo  = "info"
	SeverityError = "error"
)

// AnnotationPrefix marks metadata copied from the involved object's annotations.
const AnnotationPrefix = "event.toolkit.fluxcd.io/"

// Metadata key suffixes, used with the controller's group prefix or unprefixed
// after the metadata has been combined.
const (
	MetaRevision       = "revision"
	MetaOriginRevision = "originRevision"
	MetaChecksum       = "checksum"
	MetaDigest         = "digest"
	MetaToken          = "token"
	MetaCommit         = "commit"
	MetaCommitStatus   = "commit_status"
	MetaChangeRequest  = "change_request"
	MetaSummary        = "summary"
	// MetaCluster is Herald's own key: the cluster an event came from.
	MetaCluster = "cluster"
)

// ObjectReference is the involved object, with the JSON keys and order of a
// Kubernetes ObjectReference.
type ObjectReference struct {
	Kind            string `json:"kind,omitempty"`
	Namespace       string `json:"namespace,omitempty"`
	Name            string `json:"name,omitempty"`
	UID             string `json:"uid,omitempty"`
	APIVersion      string `json:"apiVersion,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
	FieldPath       string `json:"fieldPath,omitempty"`
}

// Payload versions of github.com/fluxcd/pkg/apis/event, as PayloadVersion
// reports them.
const (
	PayloadV1Beta1 = "v1beta1"
	PayloadV1      = "v1"
)

// Event is a Flux event, of either payload version. Marshalling it gives
// exactly the bytes Flux's notification-controller forwards to a generic
// provider for a v1beta1 event, and the v1 schema's bytes for a v1 event.
//
// The version is carried by the fields themselves: an event is v1 when
// Action is set (even to "") or RelatedObject is set. A v1beta1 event has
// neither, so neither key appears when it is marshalled; a v1 event always
// has "action", as the v1 schema requires it.
type Event struct {
	InvolvedObject ObjectReference `json:"involvedObject"`
	// RelatedObject is v1's optional secondary object.
	RelatedObject *ObjectReference `json:"relatedObject,omitempty"`
	Severity      string           `json:"severity"`
	Timestamp     Time             `json:"timestamp"`
	Message       string           `json:"message"`
	Reason        string           `json:"reason"`
	// Action is v1's required action ("Reconciling", "Failed", …); nil in a
	// v1beta1 event. Use NewAction to set it.
	Action              *string           `json:"action,omitempty"`
	Metadata            map[string]string `json:"metadata,omitempty"`
	ReportingController string            `json:"reportingController"`
	ReportingInstance   string            `json:"reportingInstance,omitempty"`

	// ObjectLabels are the labels of the involved object. Flux reads them from
	// the API server to evaluate an Alert's matchLabels; Herald runs outside
	// the cluster, so the sender puts them in the request body under the
	// top-level key "involvedObjectLabels" (see Decode). They are never
	// forwarded to providers.
	ObjectLabels map[string]string `json:"-"`
}

// wireEvent is the ingest body: a Flux event plus Herald's labels extension.
type wireEvent struct {
	Event
	InvolvedObjectLabels map[string]string `json:"involvedObjectLabels,omitempty"`
}

// ErrMissingObject is returned by Validate for an event Flux would drop.
var ErrMissingObject = errors.New("involvedObject kind, name and namespace are required")

// Decode parses an ingest body leniently, as Flux does: unknown keys are
// ignored and missing keys become zero values. Trailing data after the JSON
// object is an error.
//
// The payload version is decided by the keys present, as no header or field
// names it: a body with a string "action" or an object "relatedObject" is a
// v1 event, any other body a v1beta1 event. A null value counts as absent.
func Decode(data []byte) (Event, error) {
	w, ok := decodeFast(data)
	if !ok {
		// json.Unmarshal refuses trailing data, where a json.Decoder would
		// buffer and scan it twice.
		w = wireEvent{}
		if err := json.Unmarshal(data, &w); err != nil {
			return Event{}, fmt.Errorf("invalid event JSON: %w", err)
		}
	}
	w.Event.ObjectLabels = w.InvolvedObjectLabels
	if w.Event.RelatedObject != nil && w.Event.Action == nil {
		// Only v1 has relatedObject, and v1 requires action: complete the
		// event as the v1 schema would decode it.
		w.Event.Action = NewAction("")
	}
	return w.Event, nil
}

// NewAction returns a pointer to action, for Event.Action.
func NewAction(action string) *string {
	return &action
}

// PayloadVersion reports which event payload e is: PayloadV1 when it has
// an action or a related object, PayloadV1Beta1 otherwise.
func (e *Event) PayloadVersion() string {
	if e.Action != nil || e.RelatedObject != nil {
		return PayloadV1
	}
	return PayloadV1Beta1
}

// MarshalWithLabels encodes the event as an ingest body, including the
// involved object's labels. The forwarder and tests use it.
func MarshalWithLabels(e Event) ([]byte, error) {
	b := e.AppendJSON(make([]byte, 0, 512))
	if len(e.ObjectLabels) == 0 {
		return b, nil
	}
	b = append(b[:len(b)-1], `,"involvedObjectLabels":`...)
	b = appendStringMap(b, e.ObjectLabels)
	return append(b, '}'), nil
}

// Validate reports what Herald refuses and Flux silently drops: an event
// without an involved object it could match.
func (e *Event) Validate() error {
	var missing []string
	if e.InvolvedObject.Kind == "" {
		missing = append(missing, "involvedObject.kind")
	}
	if e.InvolvedObject.Name == "" {
		missing = append(missing, "involvedObject.name")
	}
	if e.InvolvedObject.Namespace == "" {
		missing = append(missing, "involvedObject.namespace")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: missing %s", ErrMissingObject, strings.Join(missing, ", "))
	}
	return nil
}

// Group is the API group of the involved object: the text of its apiVersion
// before "/", or "" for the core group ("v1").
func (e *Event) Group() string {
	group, _, found := strings.Cut(e.InvolvedObject.APIVersion, "/")
	if !found {
		return ""
	}
	return group
}

// ObjectName is Flux's lower(kind)/name.namespace, used in provider payloads.
func (e *Event) ObjectName() string {
	return strings.ToLower(e.InvolvedObject.Kind) + "/" + e.InvolvedObject.Name + "." + e.InvolvedObject.Namespace
}

// GetRevision returns the unprefixed commit, originRevision or revision, in
// that order of preference, as Flux's Event.GetRevision does.
func (e *Event) GetRevision() (string, bool) {
	for _, k := range []string{MetaCommit, MetaOriginRevision, MetaRevision} {
		if v, ok := e.Metadata[k]; ok {
			return v, true
		}
	}
	return "", false
}

// Time is a timestamp with the JSON form of a Kubernetes metav1.Time: RFC 3339
// in UTC at seconds precision, and null when zero.
type Time struct {
	time.Time
}

// NewTime truncates t to seconds, as the wire form does.
func NewTime(t time.Time) Time {
	return Time{t.UTC().Truncate(time.Second)}
}

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	buf := make([]byte, 0, len(time.RFC3339)+2)
	buf = append(buf, '"')
	buf = t.UTC().AppendFormat(buf, time.RFC3339)
	return append(buf, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New("timestamp must be an RFC 3339 string")
	}
	parsed, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("timestamp %q is not RFC 3339", s)
	}
	t.Time = parsed.Local()
	return nil
}
