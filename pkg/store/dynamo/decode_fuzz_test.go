package dynamo

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
)

// fuzzValue is written into every fuzzed document: no decoding error may
// quote any 4 bytes of it.
const fuzzValue = "Zx7Qv9Wk3Jp2"

func quotesValue(text string) bool {
	for i := 0; i+4 <= len(fuzzValue); i++ {
		if strings.Contains(text, fuzzValue[i:i+4]) {
			return true
		}
	}
	return false
}

// FuzzDecodeConfigItem decodes config items as LoadConfig and ListObjects
// read them, with a value planted in the document. The error names the
// item but never quotes its document; a decoded object is of the item's
// kind; and the document toObject writes for it decodes to the same
// object, written alike.
func FuzzDecodeConfigItem(f *testing.F) {
	for _, o := range []any{testProvider("prod", "flux-system", "slack"), testAlert("", "flux-system", "on-call", "slack"), testReceiver("", "apps", "github")} {
		obj, err := toObject(o)
		if err != nil {
			f.Fatal(err)
		}
		// Split the document around a string value, where the planted value goes.
		i := strings.Index(obj.doc, `"name":"`) + len(`"name":"`)
		f.Add(obj.kind, obj.apiVersion, obj.ref.Cluster, obj.doc[:i], obj.doc[i:], "3", "2026-11-22T03:00:00Z")
	}
	f.Add(api.KindAlert, v1beta3, "*", `{"spec":{"eventSources":"`, `"}}`, "1.5", "")
	f.Add(api.KindReceiver, v1, "", `{"metadata":{"labels":{"a":`, `}}}`, "x", "yesterday")
	f.Add(api.KindProvider, v1beta3, "", `{"spec":{"type":"`, "\xff\"}}", "-1", "")
	f.Add(api.KindSecret, "v1", "", `{"data":{"token":"`, `"}}`, "", "")
	f.Add("", "", "", "", "", "", "")
	s := &Store{table: "herald"}
	f.Fuzz(func(t *testing.T, kind, apiVersion, cluster, docPre, docPost, generation, updated string) {
		if quotesValue(kind + apiVersion + cluster + docPre + docPost) {
			return
		}
		sk := kind + "#" + cluster + "#flux-system#x"
		item := map[string]types.AttributeValue{
			attrPK: str(configPK), attrSK: str(sk), attrKind: str(kind), attrAPIVersion: str(apiVersion),
			attrCluster: str(cluster), attrNamespace: str("flux-system"), attrName: str("x"),
			attrDoc: str(docPre + fuzzValue + docPost), attrGeneration: &types.AttributeValueMemberN{Value: generation},
			attrUpdatedAt: str(updated),
		}
		obj, err := s.decode(item)
		if err != nil {
			if quotesValue(err.Error()) || !strings.Contains(err.Error(), strconv.Quote(sk)) {
				t.Fatalf("decode: %v", err)
			}
			return
		}
		var src api.Source
		switch v := obj.Value.(type) {
		case api.Provider:
			src = v.Source
		case api.Alert:
			src = v.Source
		case api.Receiver:
			src = v.Source
		default:
			t.Fatalf("kind %q decoded as %T", kind, v)
		}
		if src.File != "dynamodb:herald/"+sk || obj.Kind != kind || obj.Cluster != clusterOf(cluster) {
			t.Fatalf("decoded %+v from %s", obj, sk)
		}

		// Written again, as PutObject writes it, and read back.
		o, err := toObject(obj.Value)
		if err != nil {
			return // not a storable object, e.g. without an apiVersion
		}
		item[attrDoc] = str(o.doc)
		again, err := s.decode(item)
		if err != nil {
			t.Fatalf("the document toObject wrote does not decode: %v\n%s", err, o.doc)
		}
		o2, err := toObject(again.Value)
		if err != nil || o2.doc != o.doc {
			t.Fatalf("round trip:\n got %s (%v)\nwant %s", o2.doc, err, o.doc)
		}
	})
}

// FuzzDecodeReconcileItem decodes reconcile-request items as the poll
// reads them: the ID is the sort key's time part, labels come only from a
// non-empty map, and what decodes survives the poll's JSON.
func FuzzDecodeReconcileItem(f *testing.F) {
	req := receiver.ReconcileRequest{APIVersion: "source.toolkit.fluxcd.io/v1", Kind: "GitRepository", Namespace: "flux-system", Name: "*",
		Receiver: "flux-system/github", RequestedAt: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)}
	f.Add(reconcileSK("01795316681000000000", req), req.APIVersion, req.Kind, req.Namespace, req.Name, req.Receiver, req.RequestedAt.Format(time.RFC3339Nano), "team", "a", true)
	f.Add("no-hash", "", "", "", "", "", "not a time", "", "", false)
	f.Add("#", "\xff", "#", "", "", "", "2026-11-22T03:00:00.123456789+01:00", "a", "", true)
	f.Fuzz(func(t *testing.T, sk, apiVersion, kind, namespace, name, rcv, requestedAt, labelKey, labelValue string, labelIsString bool) {
		item := map[string]types.AttributeValue{
			attrSK: str(sk), attrAPIVersion: str(apiVersion), attrKind: str(kind), attrNamespace: str(namespace),
			attrName: str(name), attrReceiver: str(rcv), attrRequestedAt: str(requestedAt),
		}
		if labelKey != "" {
			var v types.AttributeValue = &types.AttributeValueMemberN{Value: labelValue}
			if labelIsString {
				v = str(labelValue)
			}
			item[attrMatchLabels] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{labelKey: v}}
		}
		r := decodeReconcile(item)
		if id, _, _ := strings.Cut(sk, "#"); r.ID != id || strings.Contains(r.ID, "#") {
			t.Fatalf("sort key %q gave ID %q", sk, r.ID)
		}
		if r.Kind != kind || r.Namespace != namespace || r.Name != name || r.Receiver != rcv || r.APIVersion != apiVersion {
			t.Fatalf("decoded %+v", r)
		}
		if (labelKey != "") != (r.MatchLabels != nil) || labelKey != "" && !labelIsString && r.MatchLabels[labelKey] != "" {
			t.Fatalf("labels %v from key %q", r.MatchLabels, labelKey)
		}
		data, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var back receiver.ReconcileRequest
		if err := json.Unmarshal(data, &back); err != nil {
			t.Fatalf("%s: %v", data, err)
		}
		if !back.RequestedAt.Equal(r.RequestedAt) {
			t.Fatalf("requestedAt %v became %v", r.RequestedAt, back.RequestedAt)
		}
		back.RequestedAt = r.RequestedAt
		if !reflect.DeepEqual(back, r) && validUTF8(sk, apiVersion, kind, namespace, name, rcv, labelKey, labelValue) {
			t.Fatalf("poll JSON round trip:\n got %+v\nwant %+v", back, r)
		}
	})
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}
