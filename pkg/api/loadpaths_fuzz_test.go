package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSecret is a Secret value that no message may quote, in whole or in
// part: none of its 4-byte windows reads like a word of a message.
const fuzzSecret = "Zx7Qv9Wk3Jp2"

// leaks returns the first window of fuzzSecret found in text.
func leaks(text string) (string, bool) {
	for i := 0; i+4 <= len(fuzzSecret); i++ {
		if w := fuzzSecret[i : i+4]; strings.Contains(text, w) {
			return w, true
		}
	}
	return "", false
}

// secretDoc is a Secret whose token is written as pre + fuzzSecret + post
// on one line, which keeps it a value, whatever YAML makes of it.
func secretDoc(pre, post string) string {
	return "apiVersion: v1\nkind: Secret\nmetadata: {name: webhook-token, namespace: flux-system}\nstringData:\n  token: " +
		pre + fuzzSecret + post + "\n"
}

// FuzzLoadPaths writes a fuzzed file into a folder and loads the folder,
// as herald serve and herald validate do. LoadPaths reads it as Decode
// does, and no message, of LoadPaths or of Validate, quotes the token of
// the Secret that follows the fuzzed documents, however the text around
// it on its line is mangled.
func FuzzLoadPaths(f *testing.F) {
	for _, path := range []string{"testdata/tree/providers.yaml", "testdata/tree/sub/alerts.yml", "testdata/tree/sub/receiver.json"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data, "", "")
		}
	}
	f.Add([]byte(slackProvider+"---\n"+slackSecret), `"`, `"`)
	f.Add([]byte("kind: Receiver\n"), "'", "'")
	f.Add([]byte(""), "[", "]")
	f.Add([]byte("a: b"), "!!int ", "")
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: []\n"), "{", ": 1}")
	dir := f.TempDir()
	file := filepath.Join(dir, "fuzz.yaml")
	f.Fuzz(func(t *testing.T, doc []byte, pre, post string) {
		if strings.ContainsAny(pre+post, "\r\n\u0085\u2028\u2029") {
			return // the token would leave its line, and could become a key
		}
		text := string(doc) + "\n---\n" + secretDoc(pre, post)
		if _, ok := leaks(string(doc) + pre + post); ok {
			return // the fuzzer wrote part of the token elsewhere
		}
		if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadPaths(dir)
		want, wantErr := Decode(file, []byte(text))
		if !reflect.DeepEqual(cfg, want) || (err == nil) != (wantErr == nil) || err != nil && err.Error() != wantErr.Error() {
			t.Fatalf("LoadPaths differs from Decode:\n%v\n%v", err, wantErr)
		}
		var messages []string
		if err != nil {
			messages = append(messages, err.Error())
		}
		res := Validate(cfg, ValidateOptions{})
		for _, e := range append(res.Errors, res.Warnings...) {
			messages = append(messages, e.Error())
		}
		for _, m := range messages {
			if w, ok := leaks(m); ok {
				t.Fatalf("a message quotes %q of the Secret's token:\n%s", w, m)
			}
		}
	})
}

// FuzzDecodeRoundTrip decodes a file, writes every object that decoded
// cleanly as JSON, as herald apply stores it, and decodes that again: the
// second reading gives the same object, up to what JSON cannot tell apart
// (an empty map and none), so it is written as the same JSON.
func FuzzDecodeRoundTrip(f *testing.F) {
	for _, path := range []string{"testdata/tree/providers.yaml", "testdata/tree/sub/alerts.yml", "testdata/tree/sub/receiver.json"} {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(slackProvider + "---\n" + slackSecret))
	f.Add([]byte("apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: a, labels: {herald.io/cluster: prod}}\n" +
		"spec: {providerRef: {name: p}, eventSeverity: error, eventSources: [{kind: Kustomization, name: '*', matchLabels: {a: b}}], " +
		"inclusionList: ['.*'], eventMetadata: {env: prod}, summary: s}\n"))
	f.Add([]byte("apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {name: r}\n" +
		"spec: {type: generic-hmac, events: [push], secretRef: {name: t}, resources: [{kind: Bucket, name: '*', matchLabels: {a: b}}]}\n"))
	f.Add([]byte("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: Opaque\ndata: {a: YQ==}\nstringData: {b: c}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Decode("fuzz.yaml", data)
		if err != nil {
			return // objects with errors are not stored
		}
		var objects []any
		for _, o := range cfg.Providers {
			objects = append(objects, o)
		}
		for _, o := range cfg.Alerts {
			objects = append(objects, o)
		}
		for _, o := range cfg.Receivers {
			objects = append(objects, o)
		}
		for _, o := range cfg.Secrets {
			objects = append(objects, o)
		}
		for _, o := range objects {
			doc, err := json.Marshal(o)
			if err != nil {
				t.Fatalf("%+v does not marshal: %v", o, err)
			}
			if !utf8.Valid(data) {
				continue // JSON replaces invalid UTF-8, so the text changes
			}
			again, err := Decode("again.json", doc)
			if err != nil {
				t.Fatalf("%s does not decode again: %v", doc, err)
			}
			var got any
			switch {
			case len(again.Providers) == 1:
				p := again.Providers[0]
				p.Source = o.(Provider).Source
				got = p
			case len(again.Alerts) == 1:
				a := again.Alerts[0]
				a.Source = o.(Alert).Source
				got = a
			case len(again.Receivers) == 1:
				r := again.Receivers[0]
				r.Source = o.(Receiver).Source
				got = r
			case len(again.Secrets) == 1:
				s := again.Secrets[0]
				s.Source = o.(Secret).Source
				got = s
			}
			if docAgain, err := json.Marshal(got); err != nil || string(docAgain) != string(doc) {
				t.Fatalf("round trip:\n got %s\nwant %s", docAgain, doc)
			}
		}
	})
}
