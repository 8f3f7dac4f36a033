package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/heraldhq/herald/pkg/store"
)

// Entry is a delivery as `herald deliveries` lists it: pending (queued or
// waiting for a retry) or dead-lettered, with its last error.
type Entry struct {
	ID           string    `json:"id"`
	State        string    `json:"state"`
	Provider     string    `json:"provider"`
	ProviderType string    `json:"providerType"`
	Alert        string    `json:"alert"`
	Object       string    `json:"object"`
	Attempts     int       `json:"attempts"`
	Queued       time.Time `json:"queued,omitzero"`
	NextAttempt  time.Time `json:"nextAttempt,omitzero"`
	LastError    string    `json:"lastError,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	Updated      time.Time `json:"updated,omitzero"`
}

// Entry states.
const (
	StatePending = "pending"
	StateDead    = "dead"
)

// EntryOf describes job in state.
func EntryOf(job *Job, state string) Entry {
	o := job.Event.InvolvedObject
	return Entry{
		ID:           job.ID,
		State:        state,
		Provider:     job.Provider.String(),
		ProviderType: job.ProviderType,
		Alert:        job.Alert,
		Object:       o.Kind + "/" + o.Namespace + "/" + o.Name,
		Attempts:     job.Attempt,
		Queued:       job.Queued,
	}
}

// ListJournal lists the pending deliveries of j, then its dead letters,
// each oldest first. A record that is not a job is listed by its id.
func ListJournal(ctx context.Context, j store.DeliveryJournal) ([]Entry, error) {
	var out []Entry
	for _, dead := range []bool{false, true} {
		recs, err := j.ListDeliveries(ctx, dead)
		if err != nil {
			return nil, fmt.Errorf("listing deliveries: %w", err)
		}
		state := StatePending
		if dead {
			state = StateDead
		}
		for _, rec := range recs {
			var job Job
			e := Entry{ID: rec.ID, State: state}
			if json.Unmarshal(rec.Job, &job) == nil {
				e = EntryOf(&job, state)
			}
			e.NextAttempt, e.LastError, e.Reason, e.Updated = rec.NextAttempt, rec.LastError, rec.Reason, rec.Updated
			if dead {
				e.NextAttempt = time.Time{}
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// ReplayJournal makes up to max dead letters of j (all when max <= 0),
// oldest first, pending again, each with its attempts reset and a new retry
// horizon from now, and returns their jobs. A job keeps its id. A dead
// letter that is not a job stays where it is.
func ReplayJournal(ctx context.Context, j store.DeliveryJournal, max int, now time.Time) ([]Job, error) {
	recs, err := j.ListDeliveries(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("listing dead letters: %w", err)
	}
	var jobs []Job
	var put []store.DeliveryRecord
	for _, rec := range recs {
		if max > 0 && len(jobs) == max {
			break
		}
		var job Job
		if err := json.Unmarshal(rec.Job, &job); err != nil || job.ID != rec.ID {
			continue
		}
		job.Attempt, job.Queued = 0, now
		body, err := json.Marshal(&job)
		if err != nil {
			return nil, fmt.Errorf("encoding delivery %s: %w", job.ID, err)
		}
		jobs = append(jobs, job)
		put = append(put, store.DeliveryRecord{ID: job.ID, Job: body, Updated: now})
	}
	if len(put) == 0 {
		return nil, nil
	}
	if err := j.PutDeliveries(ctx, put...); err != nil {
		return nil, fmt.Errorf("replaying dead letters: %w", err)
	}
	return jobs, nil
}

// Replay replays up to max dead letters of the queue's journal (all when
// max <= 0) and queues them at once. It returns how many it queued.
func (q *MemoryQueue) Replay(ctx context.Context, max int) (int, error) {
	if q.Journal == nil {
		return 0, nil
	}
	jobs, err := ReplayJournal(ctx, q.Journal, max, q.deliverer.now())
	if err != nil || len(jobs) == 0 {
		return 0, err
	}
	if err := q.Enqueue(ctx, jobs...); err != nil {
		// They are pending in the journal: the next start delivers them.
		return len(jobs), fmt.Errorf("queueing replayed deliveries: %w", err)
	}
	return len(jobs), nil
}
