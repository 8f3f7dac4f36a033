package api

import (
	"reflect"
	"testing"
)

func TestAsV1(t *testing.T) {
	p := Provider{TypeMeta: TypeMeta{APIVersion: v1beta2, Kind: KindProvider},
		Spec: ProviderSpec{Type: "generic", Address: "https://example.com", Interval: "5m", Proxy: "http://proxy:3128"}}
	got, notes := AsV1(p)
	want := Provider{TypeMeta: TypeMeta{APIVersion: v1, Kind: KindProvider},
		Spec: ProviderSpec{Type: "generic", Address: "https://example.com"}}
	if !reflect.DeepEqual(got, want) || len(notes) != 2 {
		t.Errorf("Provider: %+v %q", got, notes)
	}

	a := Alert{TypeMeta: TypeMeta{APIVersion: v1beta3, Kind: KindAlert},
		Spec: AlertSpec{Summary: "prod", EventMetadata: map[string]string{"summary": "old", "env": "eu"}}}
	got, notes = AsV1(a)
	wantA := Alert{TypeMeta: TypeMeta{APIVersion: v1, Kind: KindAlert},
		Spec: AlertSpec{EventMetadata: map[string]string{"summary": "prod", "env": "eu"}}}
	if !reflect.DeepEqual(got, wantA) || len(notes) != 2 {
		t.Errorf("Alert: %+v %q", got, notes)
	}
	if a.Spec.EventMetadata["summary"] != "old" {
		t.Error("AsV1 changed the map of its argument")
	}

	// Nothing to carry over: only the apiVersion changes, silently.
	for _, obj := range []any{
		Alert{TypeMeta: TypeMeta{APIVersion: v1beta1, Kind: KindAlert}, Spec: AlertSpec{EventSeverity: "error"}},
		Receiver{TypeMeta: TypeMeta{APIVersion: v1beta2, Kind: KindReceiver}, Spec: ReceiverSpec{Type: "github"}},
	} {
		got, notes := AsV1(obj)
		if notes != nil || reflect.ValueOf(got).FieldByName("APIVersion").String() != v1 {
			t.Errorf("%+v: %+v %q", obj, got, notes)
		}
	}
}
