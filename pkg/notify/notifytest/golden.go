package notifytest

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// update rewrites golden files: go test ./pkg/notify/... -update. Every test
// package under pkg/notify imports this package, so the flag is defined in
// each of their binaries.
var update = flag.Bool("update", false, "rewrite testdata/*.golden with the requests the tests capture")

// ignoredHeaders follow from the body or the connection, not from the
// notifier.
var ignoredHeaders = map[string]bool{"Content-Length": true}

// Format renders a request for a golden file: the request line, the headers
// sorted by name (one line per value), a blank line and the exact body,
// followed by one newline that is not part of it.
func Format(r Request) []byte {
	var b bytes.Buffer
	b.WriteString(r.Method + " " + r.URI + "\n")
	names := make([]string, 0, len(r.Header))
	for k := range r.Header {
		if !ignoredHeaders[k] {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	for _, k := range names {
		for _, v := range r.Header[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(r.Body)
	b.WriteString("\n")
	return b.Bytes()
}

// AssertGolden compares r with testdata/<name>.golden byte for byte, or
// rewrites the file under -update. Review rewritten files as diffs: they are
// the record of what Herald sends.
func AssertGolden(t testing.TB, name string, r Request) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	got := Format(r)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("request differs from %s (go test -update rewrites it)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}
