package pagerduty

import (
	"slices"
	"testing"
)

// The table of github.com/fatih/camelcase, which Flux's copy passes.
func TestSplitCamelCase(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{"lowercase", []string{"lowercase"}},
		{"Class", []string{"Class"}},
		{"MyClass", []string{"My", "Class"}},
		{"MyC", []string{"My", "C"}},
		{"HTML", []string{"HTML"}},
		{"PDFLoader", []string{"PDF", "Loader"}},
		{"AString", []string{"A", "String"}},
		{"SimpleXMLParser", []string{"Simple", "XML", "Parser"}},
		{"vimRPCPlugin", []string{"vim", "RPC", "Plugin"}},
		{"GL11Version", []string{"GL", "11", "Version"}},
		{"99Bottles", []string{"99", "Bottles"}},
		{"May5", []string{"May", "5"}},
		{"BFG9000", []string{"BFG", "9000"}},
		{"BöseÜberraschung", []string{"Böse", "Überraschung"}},
		{"Two  spaces", []string{"Two", "  ", "spaces"}},
		{"BadUTF8\xe2\xe2\xa1", []string{"BadUTF8\xe2\xe2\xa1"}},
		{"HealthCheckFailed", []string{"Health", "Check", "Failed"}},
	}
	for _, tc := range tests {
		if got := splitCamelCase(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("splitCamelCase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
