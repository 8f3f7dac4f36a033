package delivery

import (
	"strconv"

	"github.com/heraldhq/herald/pkg/event"
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
	b = event.AppendJSONString(b, j.ID)
	b = append(b, `,"event":`...)
	b = j.Event.AppendJSON(b)
	b = append(b, `,"provider":{`...)
	if j.Provider.Cluster != "" {
		b = append(b, `"cluster":`...)
		b = event.AppendJSONString(b, j.Provider.Cluster)
		b = append(b, ',')
	}
	b = append(b, `"namespace":`...)
	b = event.AppendJSONString(b, j.Provider.Namespace)
	b = append(b, `,"name":`...)
	b = event.AppendJSONString(b, j.Provider.Name)
	b = append(b, `},"providerType":`...)
	b = event.AppendJSONString(b, j.ProviderType)
	b = append(b, `,"alert":`...)
	b = event.AppendJSONString(b, j.Alert)
	if j.CommitStatus != "" {
		b = append(b, `,"commitStatus":`...)
		b = event.AppendJSONString(b, j.CommitStatus)
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
