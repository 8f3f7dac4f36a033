// Package azuredevops sets commit statuses on Azure DevOps Services and
// Server through the Azure DevOps Go API, as Flux's
// internal/notifier/azure_devops.go does (behaviour reference §4.3): the SDK
// discovers the resource locations (OPTIONS {org}/_apis, once per process
// and organization), lists the commit's statuses
// (GET {org}/{project}/_apis/git/repositories/{repo}/commits/{sha}/statuses)
// and creates one (POST to the same path) unless the first status with the
// same context name and genre has the same state and description.
//
// The SDK makes exactly one request per call (it has no retry logic), every
// call is bounded by the caller's context, and its requests go through the
// Provider's HTTP client, which follows redirects on the same host only.
package azuredevops

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/microsoft/azure-devops-go-api/azuredevops/v7"
	"github.com/microsoft/azure-devops-go-api/azuredevops/v7/git"

	"github.com/heraldhq/herald/pkg/event"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/notify/commitstatus"
	"github.com/heraldhq/herald/pkg/notify/internal/statushttp"
	"github.com/heraldhq/herald/pkg/redirect"
)

// Genre is the context genre of every status Flux sets; an event with a
// "summary" metadata key gets Genre + ":" + summary.
const Genre = "fluxcd"

// ErrWorkloadIdentity is New's error for a Provider without a personal
// access token. Flux then authenticates with AKS workload identity (a
// federated token for scope 499b84ac-1321-427f-aa17-267ca6975798/.default),
// which needs the AKS pod's service-account token and cannot work in Herald.
// Validation should warn about such Providers.
var ErrWorkloadIdentity = errors.New("azure devops token cannot be empty: Herald needs a personal access token; Flux's fallback to AKS workload identity cannot work outside AKS")

// Notifier sets commit statuses on one repository.
type Notifier struct {
	// Now turns Retry-After dates into delays; time.Now by default.
	Now func() time.Time

	uid           string
	project, repo string
	client        *git.ClientImpl
	secrets       []notify.Secret
}

var (
	_ notify.Notifier             = (*Notifier)(nil)
	_ commitstatus.StatusNotifier = (*Notifier)(nil)
)

// New builds an azuredevops commit-status notifier. cfg.Address is the
// repository URL, whose path must be <organization>/<project>/_git/<repo>;
// the organization URL is <host>/<organization>. cfg.Token is the personal
// access token, sent as Basic base64(":" + token); without it New fails
// with ErrWorkloadIdentity.
func New(cfg notify.Config) (*Notifier, error) {
	addr, err := commitstatus.ParseAddress(cfg.Address.Reveal())
	if err != nil {
		return nil, err
	}
	repo, err := addr.AzureDevOps()
	if err != nil {
		return nil, err
	}
	if cfg.Token == "" {
		return nil, ErrWorkloadIdentity
	}
	// As Flux's connection.GetClientByUrl normalizes it, which is also the
	// key of the SDK's location cache.
	orgURL := strings.ToLower(strings.TrimRight(repo.OrgURL, "/"))
	conn := azuredevops.NewPatConnection(orgURL, cfg.Token.Reveal())
	hc := statushttp.Client(cfg.Client())
	hc.Transport = &transport{base: hc.Transport}
	hc.CheckRedirect = checkRedirect
	client := azuredevops.NewClientWithOptions(conn, orgURL, azuredevops.WithHTTPClient(hc))
	secrets := append(cfg.SecretValues(), notify.Secret(base64.StdEncoding.EncodeToString([]byte(":"+cfg.Token.Reveal()))))
	return &Notifier{
		Now:     time.Now,
		uid:     cfg.UID,
		project: repo.Project,
		repo:    repo.Repo,
		client:  &git.ClientImpl{Client: *client},
		secrets: secrets,
	}, nil
}

// Notify sets the status with the default id, built from the Provider's
// UID and the involved object.
func (n *Notifier) Notify(ctx context.Context, ev event.Event) (retry bool, err error) {
	return n.NotifyCommitStatus(ctx, ev, commitstatus.DefaultID(n.uid, ev))
}

// NotifyCommitStatus sets the status named statusID on the event's commit,
// unless the first status with that name and genre already has the same
// state and description. Progressing events are skipped, as in Flux.
func (n *Notifier) NotifyCommitStatus(ctx context.Context, ev event.Event, statusID string) (retry bool, err error) {
	s, skip, err := commitstatus.For(commitstatus.AzureDevOps, ev, statusID)
	if skip || err != nil {
		return false, err
	}
	genre := Genre
	if summary, ok := ev.Metadata["summary"]; ok {
		genre += ":" + summary
	}
	state := git.GitStatusState(s.State)
	want := &git.GitStatus{
		Context:     &git.GitStatusContext{Genre: &genre, Name: &s.ID},
		Description: &s.Description,
		State:       &state,
	}

	rec := &record{}
	ctx = context.WithValue(ctx, recordKey{}, rec)
	statuses, err := n.client.GetStatuses(ctx, git.GetStatusesArgs{Project: &n.project, RepositoryId: &n.repo, CommitId: &s.Commit})
	// A 2xx list it cannot read is taken as empty, so the status is set.
	if err != nil && !rec.answered(http.MethodGet) {
		return notify.Outcome(n.fail("could not list commit statuses: ", err, rec))
	}
	if statuses != nil && duplicate(*statuses, want) {
		return false, nil
	}
	*rec = record{}
	_, err = n.client.CreateCommitStatus(ctx, git.CreateCommitStatusArgs{
		Project: &n.project, RepositoryId: &n.repo, CommitId: &s.Commit, GitCommitStatusToCreate: want,
	})
	// A 2xx answer it cannot read still created the status.
	if err != nil && !rec.answered(http.MethodPost) {
		return notify.Outcome(n.fail("could not create commit status: ", err, rec))
	}
	return false, nil
}

// duplicate is Flux's duplicateAzureDevOpsStatus: the first status with the
// same context name and genre decides. Entries missing a field, on which
// Flux would panic, are skipped.
func duplicate(statuses []git.GitStatus, want *git.GitStatus) bool {
	for _, s := range statuses {
		if s.Context == nil || s.Context.Name == nil || s.Context.Genre == nil || s.State == nil || s.Description == nil {
			continue
		}
		if *s.Context.Name == *want.Context.Name && *s.Context.Genre == *want.Context.Genre {
			return *s.State == *want.State && *s.Description == *want.Description
		}
	}
	return false
}

// errorTextLimit caps the server's message in an error.
const errorTextLimit = 4 << 10

// fail classifies the error of an SDK call by the shared rules and masks
// every secret out of Flux's text. The SDK drops the response of a failed
// call, so its status and Retry-After come from the transport's record.
func (n *Notifier) fail(prefix string, err error, rec *record) error {
	code := rec.status
	var (
		wrapped  azuredevops.WrappedError
		wrappedP *azuredevops.WrappedError
	)
	switch {
	case errors.As(err, &wrapped) && wrapped.StatusCode != nil:
		code = *wrapped.StatusCode
	case errors.As(err, &wrappedP) && wrappedP != nil && wrappedP.StatusCode != nil:
		code = *wrappedP.StatusCode
	}
	e := &notify.Error{}
	var ue *url.Error
	switch {
	case rec.refused != nil:
		// The SDK's error is about the 3xx answer; the refusal says more.
		err = notify.Classify(rec.method, nil, nil, rec.refused, n.Now())
	case errors.As(err, &ue):
		// net/http's error quotes the URL; Classify's text does not.
		method := rec.method
		if method == "" {
			method = http.MethodGet
		}
		c := notify.Classify(method, nil, nil, err, n.Now())
		e.Retryable = notify.IsRetryable(c)
		err = c
	case code != 0 && (code < 200 || code > 299):
		e.StatusCode = code
		e.Retryable = notify.RetryableStatus(code)
		if e.Retryable {
			e.RetryAfter = notify.ParseRetryAfter(rec.retryAfter, n.Now())
		}
	}
	text := err.Error()
	if len(text) > errorTextLimit {
		text = text[:errorTextLimit]
	}
	e.Err = notify.MaskError(fmt.Errorf("%s%s%w", prefix, text, sentinel(err)), e.Retryable, n.secrets...).Err
	return e
}

// sentinel keeps a context error detectable through the masked text.
func sentinel(err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return silent{context.DeadlineExceeded}
	case errors.Is(err, context.Canceled):
		return silent{context.Canceled}
	}
	return silent{}
}

// silent wraps an error without adding to the text.
type silent struct{ err error }

func (s silent) Error() string { return "" }
func (s silent) Unwrap() error { return s.err }

// record is what the transport saw of the last request of one SDK call.
type record struct {
	method     string
	status     int
	retryAfter string
	// refused is the redirect checkRedirect did not follow.
	refused error
}

// checkRedirect follows redirects by redirect.Check. A redirect it
// refuses ends the call with the redirect's own answer rather than an
// error: with an error, net/http returns that answer closed, and the SDK
// reads its body for a message. fail reports the refusal kept in the
// call's record.
func checkRedirect(req *http.Request, via []*http.Request) error {
	err := redirect.Check(req, via)
	if err == nil {
		return nil
	}
	if rec, _ := req.Context().Value(recordKey{}).(*record); rec != nil {
		rec.refused = err
	}
	return http.ErrUseLastResponse
}

// answered reports that the last request was method and got a 2xx.
func (r *record) answered(method string) bool {
	return r.method == method && r.status >= 200 && r.status <= 299
}

type recordKey struct{}

// responseLimit caps what the SDK reads of an answer: a commit has at most
// a thousand statuses of a few hundred bytes each.
const responseLimit = 8 << 20

// transport records each answer for the call that made it, caps the body
// the SDK reads whole, and removes X-TFS-Session from answers: the SDK
// would store it in a package variable that every client shares, without a
// lock.
type transport struct{ base http.RoundTripper }

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	rec, _ := req.Context().Value(recordKey{}).(*record)
	if rec != nil {
		*rec = record{method: req.Method}
	}
	resp, err := base.RoundTrip(req)
	if err != nil || resp == nil {
		return resp, err
	}
	if rec != nil {
		rec.status, rec.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	resp.Header.Del("X-Tfs-Session")
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.LimitReader(resp.Body, responseLimit), resp.Body}
	return resp, nil
}
