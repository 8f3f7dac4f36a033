package api

import (
	"regexp"
	"slices"
	"testing"
)

func TestProviderTypesSortedAndUnique(t *testing.T) {
	if !slices.IsSorted(FluxProviderTypes) {
		t.Errorf("ProviderTypes is not sorted by name: %v", FluxProviderTypes)
	}
	if len(providerTypeIndex) != len(ProviderTypes) {
		t.Errorf("ProviderTypes has duplicate names: %v", FluxProviderTypes)
	}
	for _, pt := range ProviderTypes {
		if (pt.Address == WholeAddress) != (pt.AddressNote == "") {
			t.Errorf("%s: an AddressNote explains exactly the address uses other than WholeAddress", pt.Name)
		}
		if pt.Class == CommitStatus && !pt.ReceivesCommitStatusUpdates {
			t.Errorf("%s: commit-status types receive commit status updates", pt.Name)
		}
	}
}

// Flux's CEL message lists the commit-status types in its own order; it
// must name exactly the CommitStatus types of the table.
func TestCommitStatusExprMessageNamesTheCommitStatusTypes(t *testing.T) {
	var named []string
	for _, m := range regexp.MustCompile(`'([a-z]+)'`).FindAllStringSubmatch(commitStatusExprMessage, -1) {
		named = append(named, m[1])
	}
	var want []string
	for _, pt := range ProviderTypes {
		if pt.Class == CommitStatus {
			want = append(want, pt.Name)
		}
	}
	slices.Sort(named)
	if !slices.Equal(named, want) {
		t.Errorf("message names %v, table has %v", named, want)
	}
}

func TestIgnoresAddressPart(t *testing.T) {
	tests := []struct {
		typ, address string
		want         bool
	}{
		{"slack", "https://hooks.slack.com/services/x", false},
		{"telegram", "https://example.com", true},
		{"telegram", "", false},
		{"pagerduty", "https://events.pagerduty.com", false},
		{"pagerduty", "https://events.pagerduty.com/", false},
		{"pagerduty", "https://events.pagerduty.com/v2/x", true},
		{"datadog", "https://api.datadoghq.com?x=1", true},
		{"zulip", "https://org.zulipchat.com?x=1", false},
		{"zulip", "https://org.zulipchat.com/api", true},
		{"bitbucket", "https://bitbucket.org/o/r", false},
		{"bitbucket", "https://git.example.com/o/r", true},
		{"unknown", "https://example.com/x", false},
	}
	for _, tc := range tests {
		if got := ProviderTypeOf(tc.typ).IgnoresAddressPart(tc.address); got != tc.want {
			t.Errorf("%s %q: IgnoresAddressPart = %v, want %v", tc.typ, tc.address, got, tc.want)
		}
	}
}
