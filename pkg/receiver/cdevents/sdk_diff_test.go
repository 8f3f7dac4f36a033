package cdevents

import (
	"os"
	"reflect"
	"testing"

	sdk "github.com/cdevents/sdk-go/pkg/api"
	sdk04 "github.com/cdevents/sdk-go/pkg/api/v04"
)

// sdkValidate is how Flux judges a CDEvents body (v04.NewFromJsonBytes,
// then api.Validate), except that every call decodes into fresh events:
// the SDK's parser reuses one shared value per event type, so fields of
// an earlier event would leak into a later one.
func sdkValidate(body []byte) error {
	fresh := make(map[string]sdk.CDEventV04, len(sdk04.CDEventsByUnversionedTypes))
	for key, shared := range sdk04.CDEventsByUnversionedTypes {
		fresh[key] = reflect.New(reflect.TypeOf(shared).Elem()).Interface().(sdk.CDEventV04)
	}
	event, err := sdk.NewFromJsonBytesContext(body, fresh)
	if err != nil {
		return err
	}
	return sdk.Validate(event)
}

// sdkEvents are one event of every v0.4 type as the SDK writes them, with
// an id, a source and a subject id: the starting points of the fuzzer.
func sdkEvents(tb testing.TB) [][]byte {
	var events [][]byte
	for _, proto := range sdk04.CDEventsTypes {
		typ := proto.GetType()
		if typ.Custom != "" || typ.Subject == "" {
			continue
		}
		e, err := sdk04.NewCDEvent(typ.String(), SpecVersion)
		if err != nil {
			tb.Fatalf("%s: %v", typ, err)
		}
		w := e.(sdk.CDEventWriter)
		w.SetId("271069a8-fc18-44f1-b38f-9d70a1695819")
		w.SetSource("/event/source/123")
		w.SetSubjectId("pkg:golang/mygit.com/myorg/myapp@234fd47e07d1004f0aed9c")
		b, err := sdk.AsJsonBytes(e)
		if err != nil {
			tb.Fatal(err)
		}
		events = append(events, b)
	}
	return events
}

// TestValidateAsTheSDK: every type's SDK-written event and the testdata
// events are judged as the SDK judges them.
func TestValidateAsTheSDK(t *testing.T) {
	events := sdkEvents(t)
	if len(events) < 40 {
		t.Fatalf("%d SDK events, want one per v0.4 type", len(events))
	}
	for _, name := range []string{"../testdata/cdevents-artifact-published.json", "../testdata/cdevents-change-merged.json"} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, b)
	}
	accepted := 0
	for _, b := range events {
		want, got := sdkValidate(b), Validate(b)
		if (want == nil) != (got == nil) {
			t.Errorf("%s\nSDK: %v\nHerald: %v", b, want, got)
		}
		if got == nil {
			accepted++
		}
	}
	t.Logf("%d of %d events valid", accepted, len(events))
}

// FuzzValidateAsTheSDK compares Validate with the SDK on fuzzed bodies:
// both accept or both refuse.
func FuzzValidateAsTheSDK(f *testing.F) {
	for _, b := range sdkEvents(f) {
		f.Add(b)
	}
	f.Add([]byte(`{"context":{"gitRepository":"adamkenihan/notification-controller","gitRevision":"5555","version":"0.3.0","id":"5555",` +
		`"source":"github","timestamp":"2023-12-07T14:51:29.908479495Z","type":"dev.cdevents.change.merged.0.2.0"},"subject":{"type":"change","id":"5555"}}`))
	f.Add([]byte(`{"context":{"version":"0.4.1","id":"1","source":"s","type":"dev.cdeventsx.mytool-resource.created.0.1.0","timestamp":"2023-12-07T14:51:29Z"},"subject":{"type":"x","id":"x","content":{}}}`))
	f.Add([]byte(`{"context":{"type":"dev.cdevents.change.merged.1.0.0"}}`))
	f.Add([]byte(`{"context":{"type":"x"}}`))
	f.Add([]byte(`{"context":{"Type":"dev.cdevents.change.merged.0.2.0","ID":"a","source":"b","version":"c"},"subject":{"id":"a","type":"change"}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		want, got := sdkValidate(body), Validate(body)
		if (want == nil) != (got == nil) {
			t.Fatalf("SDK: %v\nHerald: %v", want, got)
		}
	})
}
