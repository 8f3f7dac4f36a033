package gitlabcomment_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/gitlab/gitlabtest"
	"github.com/heraldhq/herald/pkg/notify/gitlabcomment"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token   = "glpat-commenttoken0123456789abc"
	uid     = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	project = "flux/apps/podinfo"
	marker  = "<!-- flux-mr-comment-key:" + uid + "/Kustomization/flux-system/podinfo -->"
)

var (
	userCall   = "GET /api/v4/user"
	listCall   = "GET /api/v4/projects/flux%2Fapps%2Fpodinfo/merge_requests/7/notes?order_by=created_at&per_page=100&sort=asc"
	createCall = "POST /api/v4/projects/flux%2Fapps%2Fpodinfo/merge_requests/7/notes"
)

func newNotifier(t *testing.T, fake *gitlabtest.Server) *gitlabcomment.Notifier {
	t.Helper()
	fake.Users[token] = "flux-bot"
	n, err := gitlabcomment.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/" + project), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func mrEvent(severity string) event.Event {
	ev := notifytest.ReferenceEvent(severity, true)
	ev.Metadata["change_request"] = "7"
	return ev
}

func notifyOK(t *testing.T, n notify.Notifier, ev event.Event) {
	t.Helper()
	if retry, err := n.Notify(context.Background(), ev); err != nil || retry {
		t.Fatalf("Notify: retry %v, err %v", retry, err)
	}
}

// A note is created once, then edited in place; golden files hold the
// requests byte for byte.
func TestCreateThenEdit(t *testing.T) {
	fake := gitlabtest.New(t)
	n := newNotifier(t, fake)
	notifyOK(t, n, mrEvent(event.SeverityInfo))
	notifyOK(t, n, mrEvent(event.SeverityError))
	notes := fake.Notes(project, 7)
	editCall := "PUT /api/v4/projects/flux%2Fapps%2Fpodinfo/merge_requests/7/notes/" + itoa(notes[0].ID)
	if got, want := fake.Calls(), []string{userCall, listCall, createCall, userCall, listCall, editCall}; !slices.Equal(got, want) {
		t.Fatalf("calls:\n got %q\nwant %q", got, want)
	}
	if len(notes) != 1 || !strings.HasPrefix(notes[0].Body, marker+"\n\n## Flux Status\n\n\u26a0\ufe0f Kustomization/flux-system/podinfo") {
		t.Errorf("notes %+v", notes)
	}
	reqs := fake.Requests()
	notifytest.AssertGolden(t, "user", reqs[0])
	notifytest.AssertGolden(t, "list-notes", reqs[1])
	notifytest.AssertGolden(t, "create-note", reqs[2])
	notifytest.AssertGolden(t, "update-note", reqs[5])
}

// Another user's note with the marker is not ours to edit.
func TestOtherUsersNoteIgnored(t *testing.T) {
	fake := gitlabtest.New(t)
	fake.AddNote(project, 7, gitlabtest.Note{Body: marker + "\n\nforged", Author: gitlabtest.Author{ID: 2, Username: "mallory"}})
	notifyOK(t, newNotifier(t, fake), mrEvent(event.SeverityInfo))
	if got, want := fake.Calls(), []string{userCall, listCall, createCall}; !slices.Equal(got, want) {
		t.Errorf("calls %q", got)
	}
	if notes := fake.Notes(project, 7); len(notes) != 2 || notes[0].Body != marker+"\n\nforged" {
		t.Errorf("notes %+v", notes)
	}
}

func TestChangeRequestMetadata(t *testing.T) {
	bad := mrEvent(event.SeverityInfo)
	bad.Metadata["change_request"] = "seven"
	tests := []struct {
		name string
		ev   event.Event
		want string
	}{
		{"missing", notifytest.ReferenceEvent(event.SeverityInfo, true), `missing "change_request" metadata key`},
		{"invalid", bad, `invalid "change_request" metadata value "seven": strconv.ParseInt: parsing "seven": invalid syntax`},
	}
	for _, tc := range tests {
		fake := gitlabtest.New(t)
		retry, err := newNotifier(t, fake).Notify(context.Background(), tc.ev)
		if retry || err == nil || err.Error() != tc.want {
			t.Errorf("%s: retry %v, err %v", tc.name, retry, err)
		}
		if calls := fake.Calls(); len(calls) != 0 {
			t.Errorf("%s: calls %q", tc.name, calls)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := gitlabcomment.New(notify.Config{Address: "https://gitlab.com/a/b", Token: token}); err == nil || err.Error() != "provider UID cannot be empty" {
		t.Errorf("err = %v", err)
	}
	if _, err := gitlabcomment.New(notify.Config{UID: uid, Address: "https://gitlab.com/a/b"}); err == nil || err.Error() != "gitlab token cannot be empty" {
		t.Errorf("err = %v", err)
	}
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		n, err := gitlabcomment.New(notify.Config{UID: uid, Address: notify.Secret(address + "/podinfo"), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return retryAdapter{n}
	})
}

// retryAdapter adds the change request the retry kit's event lacks.
type retryAdapter struct{ n *gitlabcomment.Notifier }

func (a retryAdapter) Notify(ctx context.Context, ev event.Event) (bool, error) {
	ev.Metadata = map[string]string{"change_request": "7", "revision": notifytest.Revision}
	return a.n.Notify(ctx, ev)
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
		n, err := gitlabcomment.New(cfg)
		if err != nil {
			return nil, err
		}
		return retryAdapter{n}, nil
	}, func(cfg *notify.Config) {
		cfg.UID = uid
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path, u.RawQuery = "/flux/podinfo", ""
			cfg.Address = notify.Secret(u.String())
		}
	})
}
