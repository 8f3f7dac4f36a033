package cdevents

import (
	"os"
	"strings"
	"sync"
	"testing"
)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestValidate: the documented examples pass; what the SDK refuses beyond
// the schema is refused, and what its Go types forgive is forgiven. Each
// verdict is also the SDK's.
func TestValidate(t *testing.T) {
	published := string(readEvent(t, "cdevents-artifact-published.json"))
	merged := string(readEvent(t, "cdevents-change-merged.json"))
	const buildFinished = `{"context":{"version":"0.4.1","id":"1","source":"/ci","type":"dev.cdevents.build.finished.0.2.0","timestamp":"2023-03-20T14:27:05Z"},` +
		`"subject":{"id":"build-1","type":"build","content":{ARTIFACT}}}`
	tests := []struct {
		name, body, err string // err: "" for valid, else a part of the error
	}{
		{"artifact.published", published, ""},
		{"change.merged", merged, ""},
		{"unknown fields are dropped, as by the SDK's Go types", strings.Replace(merged, `"version": "0.4.1",`, `"version": "0.4.1", "gitRevision": "5555",`, 1), ""},
		{"a missing timestamp is the zero time", strings.Replace(merged, `"timestamp": "2023-03-20T14:27:05.315384Z"`, `"chainId": "x"`, 1), ""},
		{"a missing required object is empty", `{"context":{"version":"0.4.1","id":"1","source":"s","type":"dev.cdevents.change.merged.0.2.0","timestamp":"2023-03-20T14:27:05Z"},"subject":{"id":"1","type":"change"}}`, ""},
		{"field names match without case", strings.Replace(merged, `"subject"`, `"SUBJECT"`, 1), ""},
		{"an optional empty string is left out", strings.Replace(published, `"user": "mybot-myapp"`, `"user": ""`, 1), ""},
		{"timestamp not RFC 3339", strings.Replace(merged, "2023-03-20T14:27:05.315384Z", "20 March 2023", 1), `parsing time "20 March 2023"`},
		{"source not a URI reference", strings.Replace(merged, `"source": "my-git.example/an-org/a-repo",`, `"source": "%zz",`, 1), "field source: not a URI reference"},
		{"artifactId not a package URL", strings.Replace(buildFinished, "ARTIFACT", `"artifactId":"myapp:1.0"`, 1), "field artifactId: not a package URL"},
		{"artifactId missing, checked all the same", strings.Replace(buildFinished, "ARTIFACT", "", 1), "field artifactId: not a package URL"},
		{"artifactId a package URL", strings.Replace(buildFinished, "ARTIFACT", `"artifactId":"pkg:oci/myapp@sha256%3A0b31b1c0"`, 1), ""},
		{"custom schema URI", strings.Replace(merged, `"version": "0.4.1",`, `"version": "0.4.1", "schemaUri": "https://example.org/s",`, 1), "schema with id https://example.org/s could not be found in the local registry"},
		{"custom event type", `{"context":{"version":"0.4.1","id":"1","source":"s","type":"dev.cdeventsx.mytool-resource.created.0.1.0","timestamp":"2023-03-20T14:27:05Z"},"subject":{"id":"1","type":"mytool-resource","content":{}}}`, ""},
		{"unparsable type", strings.Replace(merged, "dev.cdevents.change.merged.0.2.0", "change-merged", 1), "cannot parse event type change-merged"},
		{"minor version of another spec", strings.Replace(merged, "change.merged.0.2.0", "change.merged.0.1.2", 1), "value must be 'dev.cdevents.change.merged.0.2.0'"},
		{"trailing data", merged + "{}", "invalid character '{' after top-level value"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate([]byte(tc.body))
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
				t.Fatalf("Validate() = %v, want %q", err, tc.err)
			}
			if sdkErr := sdkValidate([]byte(tc.body)); (sdkErr == nil) != (err == nil) {
				t.Fatalf("the SDK says %v", sdkErr)
			}
		})
	}
}

// TestValidateConcurrently: schemas compile on first use under a lock;
// concurrent calls of several types (run with -race) all get their
// verdicts.
func TestValidateConcurrently(t *testing.T) {
	bodies := [][]byte{readEvent(t, "cdevents-artifact-published.json"), readEvent(t, "cdevents-change-merged.json")}
	bodies = append(bodies, sdkEvents(t)...)
	want := make([]bool, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Go(func() { want[i] = Validate(b) == nil })
	}
	wg.Wait()
	for range 4 {
		for i, b := range bodies {
			wg.Go(func() {
				if got := Validate(b) == nil; got != want[i] {
					t.Errorf("event %d: valid %v, first %v", i, got, want[i])
				}
			})
		}
	}
	wg.Wait()
	if !want[0] || !want[1] {
		t.Fatal("the testdata events are refused")
	}
}
