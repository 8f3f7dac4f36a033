package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/pkg/clusterauth"
)

// fuzzToken is a token written into every fuzzed --cluster-tokens file:
// no error may quote any 4 bytes of it.
const fuzzToken = "Zx7Qv9Wk3Jp2"

func quotesToken(text string) bool {
	for i := 0; i+4 <= len(fuzzToken); i++ {
		if strings.Contains(text, fuzzToken[i:i+4]) {
			return true
		}
	}
	return false
}

// FuzzReadClusterTokens reads a --cluster-tokens file of fuzzed YAML whose
// last line gives cluster prod a token, however the text around the token
// is mangled. Errors never quote the token; what reads is the file's map,
// with valid names and no empty token; and after herald cluster add
// rewrites the file, every token reads back unchanged.
func FuzzReadClusterTokens(f *testing.F) {
	f.Add("staging: keep-me", "", "")
	f.Add("", `"`, `"`)
	f.Add("- not\n- a map", "", "")
	f.Add("'we ird/../c lé': t", "", "")
	f.Add("dev: ''", "", "")
	f.Add("a: &x b", "*", "")
	f.Add("", "!!binary ", "")
	f.Add("", "{", ": 1}")
	f.Add("prod-eu: 0123456789abcdef", "", " # comment")
	dir := f.TempDir()
	file := filepath.Join(dir, "tokens.yaml")
	f.Fuzz(func(t *testing.T, doc, pre, post string) {
		if strings.ContainsAny(pre+post, "\r\n\u0085\u2028\u2029") || quotesToken(doc+pre+post) {
			return // the token would leave its line, or the fuzzer wrote it elsewhere
		}
		data := doc + "\nprod: " + pre + fuzzToken + post + "\n"
		if err := os.WriteFile(file, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		tokens, err := readClusterTokens(file)
		if err != nil {
			if quotesToken(err.Error()) {
				t.Fatalf("the error quotes the token: %v", err)
			}
			return
		}
		var want map[string]string
		if err := yaml.Unmarshal([]byte(data), &want); err != nil || !maps.Equal(tokens, want) {
			t.Fatalf("read %q from %q, which YAML reads as %q (%v)", tokens, data, want, err)
		}
		for name, token := range tokens {
			if clusterauth.CheckClusterName(name) != nil || token == "" {
				t.Fatalf("accepted cluster %q with token %q", name, token)
			}
		}

		if err := addLocalClusterToken(file, "added", "t0k", true); err != nil {
			t.Fatalf("cluster add on a file serve reads: %v", err)
		}
		again, err := readClusterTokens(file)
		want["added"] = "t0k"
		if err != nil || !maps.Equal(again, want) {
			t.Fatalf("after cluster add, read %q, %v; want %q", again, err, want)
		}
	})
}
