package boltdb

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/pkg/store"
)

// FuzzRecord: a record comes back from its encoding as it went in, job
// bytes included whatever they are, and no value read from a file makes
// decodeRecord panic.
func FuzzRecord(f *testing.F) {
	f.Add("4f1c", []byte(`{"id":"4f1c","attempt":2}`), "request failed with status code 503", true, []byte{})
	f.Add("", []byte{0xff, 0x00}, "", false, []byte{0x05, '{', '}'})
	f.Fuzz(func(t *testing.T, id string, job []byte, lastErr string, dead bool, raw []byte) {
		in := store.DeliveryRecord{ID: id, Job: job, Dead: dead, LastError: lastErr, Updated: time.Unix(1764000000, 0).UTC()}
		// The metadata is what json.Marshal makes of it, fast path or not.
		in.Reason, in.NextAttempt = lastErr+id, time.Unix(int64(len(raw))*7919, int64(len(job)))
		meta := in
		meta.Job = nil
		want, _ := json.Marshal(meta)
		if got, ok := appendRecordMeta(nil, &meta); ok && string(got) != string(want) {
			t.Fatalf("record metadata:\n got %s\nwant %s", got, want)
		}
		v, err := encodeRecord(in)
		if err != nil {
			t.Fatal(err)
		}
		out, err := decodeRecord(v)
		if err != nil {
			t.Fatalf("decoding an encoded record: %v", err)
		}
		if !bytes.Equal(out.Job, in.Job) || out.Dead != dead || !out.Updated.Equal(in.Updated) {
			t.Fatalf("round trip: %+v, want %+v", out, in)
		}
		// JSON replaces invalid UTF-8 in strings; ids and errors are text.
		if utf8.ValidString(id) && utf8.ValidString(lastErr) && (out.ID != id || out.LastError != lastErr) {
			t.Fatalf("round trip: %+v, want %+v", out, in)
		}
		_, _ = decodeRecord(raw)
	})
}
