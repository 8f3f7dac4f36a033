package delivery

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/event"
)

// reflectedJob has Job's fields and tags but not its methods, so that
// encoding/json encodes it by reflection: AppendJSON must match it.
type reflectedJob struct {
	ID           string      `json:"id"`
	Event        event.Event `json:"event"`
	Provider     ProviderRef `json:"provider"`
	ProviderType string      `json:"providerType"`
	Alert        string      `json:"alert"`
	CommitStatus string      `json:"commitStatus,omitempty"`
	Attempt      int         `json:"attempt"`
	Queued       time.Time   `json:"queued,omitzero"`
}

func checkJobEncoding(t *testing.T, j Job) {
	t.Helper()
	want, wantErr := json.Marshal(reflectedJob(j))
	got, err := j.AppendJSON(nil)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("AppendJSON error %v, encoding/json's %v", err, wantErr)
	}
	if string(got) != string(want) {
		t.Fatalf("AppendJSON:\n got %s\nwant %s", got, want)
	}
	var back Job
	if err == nil {
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("decoding %s: %v", got, err)
		}
	}
}

func TestJobAppendJSONMatchesEncodingJSON(t *testing.T) {
	ev := event.Event{InvolvedObject: event.ObjectReference{Kind: "Kustomization", Namespace: "apps", Name: "a"}, Message: "<done>"}
	for name, j := range map[string]Job{
		"zero": {},
		"full": {ID: "0123abc", Event: ev, Provider: ProviderRef{Cluster: "prod", Namespace: "apps", Name: "slack"},
			ProviderType: "slack", Alert: "apps/on-call", CommitStatus: "kustomization/apps/0c9c2e41", Attempt: 3,
			Queued: time.Date(2026, 12, 3, 10, 4, 5, 123456789, time.FixedZone("x", 3600))},
		"escapes":      {ID: "a\"b\\c\n<&>\u2028\xff", Alert: "é", Provider: ProviderRef{Name: "\x01"}},
		"out of range": {Queued: time.Date(10525, 1, 1, 0, 0, 0, 0, time.UTC)},
		"negative":     {Attempt: -1, Queued: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(name, func(t *testing.T) { checkJobEncoding(t, j) })
	}
}

func FuzzJobAppendJSON(f *testing.F) {
	f.Add("id", "cluster", "ns", "name", "generic", "ns/alert", "status", 1, int64(1764756245), int64(5))
	f.Fuzz(func(t *testing.T, id, cluster, namespace, name, typ, alert, status string, attempt int, unix, nanos int64) {
		j := Job{ID: id, Provider: ProviderRef{cluster, namespace, name}, ProviderType: typ, Alert: alert,
			CommitStatus: status, Attempt: attempt, Event: event.Event{Message: alert, Reason: id}}
		if unix != 0 {
			j.Queued = time.Unix(unix, nanos%1e9)
		}
		checkJobEncoding(t, j)
	})
}
