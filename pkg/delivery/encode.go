package delivery

import (
	"encoding/json"
	"strconv"
)

// MarshalJSON implements json.Marshaler with AppendJSON.
func (j Job) MarshalJSON() ([]byte, error) {
	return j.AppendJSON(make([]byte, 0, 1024))
}

// AppendJSON appends the job's JSON to b: what encoding/json makes of the
// struct tags (TestJobAppendJSONMatchesEncodingJSON), without reflection
// and without the validating copy encoding/json makes of a Marshaler's
// output. Every job is encoded once at enqueue, for the local journal or
// the SQS message, on the ingest path.
func (j *Job) AppendJSON(b []byte) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, j.ID)
	b = append(b, `,"event":`...)
	b = j.Event.AppendJSON(b)
	b = append(b, `,"provider":{`...)
	if j.Provider.Cluster != "" {
		b = append(b, `"cluster":`...)
		b = appendString(b, j.Provider.Cluster)
		b = append(b, ',')
	}
	b = append(b, `"namespace":`...)
	b = appendString(b, j.Provider.Namespace)
	b = append(b, `,"name":`...)
	b = appendString(b, j.Provider.Name)
	b = append(b, `},"providerType":`...)
	b = appendString(b, j.ProviderType)
	b = append(b, `,"alert":`...)
	b = appendString(b, j.Alert)
	if j.CommitStatus != "" {
		b = append(b, `,"commitStatus":`...)
		b = appendString(b, j.CommitStatus)
	}
	b = append(b, `,"attempt":`...)
	b = strconv.AppendInt(b, int64(j.Attempt), 10)
	if !j.Queued.IsZero() {
		b = append(b, `,"queued":`...)
		queued, err := j.Queued.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(b, queued...)
	}
	return append(b, '}'), nil
}

// appendString appends s as JSON. Job's own strings are ids, names and
// types, which rarely need escaping; when one does, encoding/json
// escapes it.
func appendString(b []byte, s string) []byte {
	if plainJSON(s) {
		b = append(b, '"')
		b = append(b, s...)
		return append(b, '"')
	}
	quoted, _ := json.Marshal(s)
	return append(b, quoted...)
}

// plainJSON reports whether s needs no escaping in encoding/json's output.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
