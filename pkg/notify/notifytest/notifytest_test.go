package notifytest_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

func TestFormat(t *testing.T) {
	r := notifytest.Request{
		Method: "POST",
		URI:    "/hook?a=1",
		Header: http.Header{"Content-Length": {"2"}, "X-B": {"2", "3"}, "Content-Type": {"application/json"}},
		Body:   []byte("{}"),
	}
	const want = "POST /hook?a=1\nContent-Type: application/json\nX-B: 2\nX-B: 3\n\n{}\n"
	if got := string(notifytest.Format(r)); got != want {
		t.Errorf("Format:\n%s\nwant\n%s", got, want)
	}
}

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func TestAssertGoldenDetectsDifference(t *testing.T) {
	if flag.Lookup("update").Value.String() == "true" {
		t.Skip("under -update AssertGolden writes instead of comparing")
	}
	rec := &recorder{TB: t}
	r := notifytest.Request{Method: "POST", URI: "/", Header: http.Header{}, Body: []byte("{}")}
	notifytest.AssertGolden(rec, "format-selftest", r)
	if len(rec.failures) != 0 {
		t.Fatalf("the golden file does not match: %v", rec.failures)
	}
	r.Body = []byte("{ }")
	notifytest.AssertGolden(rec, "format-selftest", r)
	if len(rec.failures) != 1 {
		t.Fatal("a one-byte difference went unnoticed")
	}
}

// leaky puts the address into its error, as Flux's constructors do.
type leaky struct{ address string }

func (l leaky) Notify(context.Context, event.Event) (bool, error) {
	return true, errors.New("POST " + l.address + " giving up after 5 attempt(s)")
}

// The leak check must fail for a leaky notifier. It runs in a child process,
// since a failing *testing.T cannot be caught in-process.
func TestAssertNoSecretLeakCatchesLeaks(t *testing.T) {
	if os.Getenv("NOTIFYTEST_LEAKY_CHILD") == "1" {
		notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
			return leaky{cfg.Address.Reveal()}, nil
		})
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAssertNoSecretLeakCatchesLeaks$")
	cmd.Env = append(os.Environ(), "NOTIFYTEST_LEAKY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the leak check passed a notifier that leaks its address:\n%s", out)
	}
	if !strings.Contains(string(out), "leaks \""+notifytest.LeakPathToken+"\"") {
		t.Errorf("the failure does not name the leaked value:\n%s", out)
	}
}

// The retry table must fail for a notifier that never retries.
func TestRunRetryTestsCatchesWrongClassification(t *testing.T) {
	if os.Getenv("NOTIFYTEST_RETRY_CHILD") == "1" {
		notifytest.RunRetryTests(t, func(_ *testing.T, address string) notify.Notifier { return neverRetry{address} })
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRunRetryTestsCatchesWrongClassification$")
	cmd.Env = append(os.Environ(), "NOTIFYTEST_RETRY_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL: TestRunRetryTestsCatchesWrongClassification/503") {
		t.Fatalf("the retry table passed a notifier that never retries:\n%s", out)
	}
}

type neverRetry struct{ address string }

func (n neverRetry) Notify(ctx context.Context, ev event.Event) (bool, error) {
	_, err := notify.Outcome(notify.Endpoint{Address: n.address}.PostJSON(ctx, ev))
	return false, err
}
