package giteacomment_test

import (
	"context"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/gitea/giteatest"
	"github.com/heraldhq/herald/pkg/notify/giteacomment"
	"github.com/heraldhq/herald/pkg/notify/notifytest"
)

const (
	token  = "gitea-commenttoken0123456789abcd"
	uid    = "0c9c2e41-d2f9-4f9b-9c41-bebc1984d67a"
	marker = "<!-- flux-pr-comment-key:" + uid + "/Kustomization/flux-system/podinfo -->"
)

var (
	versionCall = "GET /api/v1/version"
	userCall    = "GET /api/v1/user"
	listCall    = "GET /api/v1/repos/flux/podinfo/issues/7/comments?limit=100&page=1"
	createCall  = "POST /api/v1/repos/flux/podinfo/issues/7/comments"
)

func newNotifier(t *testing.T, fake *giteatest.Server) *giteacomment.Notifier {
	t.Helper()
	fake.Users[token] = "flux-bot"
	n, err := giteacomment.New(notify.Config{UID: uid, Address: notify.Secret(fake.URL + "/flux/podinfo"), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func prEvent(severity string) event.Event {
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

func TestCreateThenEdit(t *testing.T) {
	fake := giteatest.New(t)
	n := newNotifier(t, fake)
	notifyOK(t, n, prEvent(event.SeverityInfo))
	notifyOK(t, n, prEvent(event.SeverityError))
	comments := fake.Comments("flux", "podinfo", 7)
	editCall := "PATCH /api/v1/repos/flux/podinfo/issues/comments/" + strconv.FormatInt(comments[0].ID, 10)
	want := []string{versionCall, userCall, listCall, createCall, versionCall, userCall, listCall, editCall}
	if got := fake.Calls(); !slices.Equal(got, want) {
		t.Fatalf("calls:\n got %q\nwant %q", got, want)
	}
	if len(comments) != 1 || !strings.HasPrefix(comments[0].Body, marker+"\n\n## Flux Status\n\n\u26a0\ufe0f Kustomization/flux-system/podinfo") {
		t.Errorf("comments %+v", comments)
	}
	reqs := fake.Requests()
	notifytest.AssertGolden(t, "user", reqs[1])
	notifytest.AssertGolden(t, "list-comments", reqs[2])
	notifytest.AssertGolden(t, "create-comment", reqs[3])
	notifytest.AssertGolden(t, "edit-comment", reqs[7])
}

func TestOtherUsersCommentIgnored(t *testing.T) {
	fake := giteatest.New(t)
	fake.AddComment("flux", "podinfo", 7, giteatest.Comment{Body: marker + "\n\nforged", User: giteatest.User{ID: 2, Login: "mallory"}})
	notifyOK(t, newNotifier(t, fake), prEvent(event.SeverityInfo))
	if got, want := fake.Calls(), []string{versionCall, userCall, listCall, createCall}; !slices.Equal(got, want) {
		t.Errorf("calls %q", got)
	}
	if c := fake.Comments("flux", "podinfo", 7); len(c) != 2 || c[0].Body != marker+"\n\nforged" {
		t.Errorf("comments %+v", c)
	}
}

func TestChangeRequestMetadata(t *testing.T) {
	bad := prEvent(event.SeverityInfo)
	bad.Metadata["change_request"] = "seven"
	for ev, want := range map[*event.Event]string{
		ptr(notifytest.ReferenceEvent(event.SeverityInfo, true)): `missing "change_request" metadata key`,
		&bad: `invalid "change_request" metadata value "seven": strconv.Atoi: parsing "seven": invalid syntax`,
	} {
		fake := giteatest.New(t)
		retry, err := newNotifier(t, fake).Notify(context.Background(), *ev)
		if retry || err == nil || err.Error() != want {
			t.Errorf("retry %v, err %v, want %q", retry, err, want)
		}
		if calls := fake.Calls(); len(calls) != 0 {
			t.Errorf("calls %q", calls)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestNewErrors(t *testing.T) {
	if _, err := giteacomment.New(notify.Config{Address: "https://gitea.example.com/a/b", Token: token}); err == nil || err.Error() != "provider UID cannot be empty" {
		t.Errorf("err = %v", err)
	}
	if _, err := giteacomment.New(notify.Config{UID: uid, Address: "https://gitea.example.com/a/b"}); err == nil || err.Error() != "gitea token cannot be empty" {
		t.Errorf("err = %v", err)
	}
}

// withPR adds the change request the shared kits' event lacks.
type withPR struct{ n *giteacomment.Notifier }

func (a withPR) Notify(ctx context.Context, ev event.Event) (bool, error) {
	ev.Metadata = map[string]string{"change_request": "7", "revision": notifytest.Revision}
	return a.n.Notify(ctx, ev)
}

func TestRetry(t *testing.T) {
	notifytest.RunRetryTests(t, func(t *testing.T, address string) notify.Notifier {
		n, err := giteacomment.New(notify.Config{UID: uid, Address: notify.Secret(address + "/podinfo"), Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return withPR{n}
	})
}

func TestNoSecretLeak(t *testing.T) {
	notifytest.AssertNoSecretLeak(t, func(cfg notify.Config) (notify.Notifier, error) {
		n, err := giteacomment.New(cfg)
		if err != nil {
			return nil, err
		}
		return withPR{n}, nil
	}, func(cfg *notify.Config) {
		cfg.UID = uid
		if u, err := url.Parse(cfg.Address.Reveal()); err == nil && u.Host != "" {
			u.Path, u.RawQuery = "/flux/podinfo", ""
			cfg.Address = notify.Secret(u.String())
		}
	})
}
