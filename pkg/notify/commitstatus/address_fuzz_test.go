package commitstatus_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/notify/commitstatus"
)

// FuzzParseAddressRoundTrip reads an address, writes it back as
// scheme://host/id and reads that again: the second reading is the same
// repository. Left out are an id that still ends in ".git" after one was
// cut, since each reading cuts one, as git-urls does, and a host that
// net/url refuses for the new scheme (an ssh host with a port that is no
// number, written back as https), which then reads in the SCP form.
func FuzzParseAddressRoundTrip(f *testing.F) {
	for _, s := range []string{"https://github.com/foo/bar", "git@gitlab.com:foo/bar.git", "ssh://git@h:22/o/r.git",
		"https://dev.azure.com/org/proj/_git/repo", "http://[::1]:3000/a/b", "https://h/a%20b/c%2Fd", "git://h/a?b#c",
		"https://user:pass@gitea.example/o/r", "h:o/r?x", "file://h/a", "https://h//a//b/", "ssh://::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		a, err := commitstatus.ParseAddress(raw)
		if err != nil || strings.HasSuffix(a.ID, ".git") {
			return
		}
		again := a.Host + "/" + (&url.URL{Path: a.ID}).EscapedPath()
		if u, err := url.Parse(again); err != nil || u.Host != a.Hostname {
			return
		}
		b, err := commitstatus.ParseAddress(again)
		if err != nil {
			t.Fatalf("%q read as %+v, written as %q, which does not read: %v", raw, a, again, err)
		}
		if b != a {
			t.Fatalf("%q read as %+v, written as %q, read as %+v", raw, a, again, b)
		}
	})
}
