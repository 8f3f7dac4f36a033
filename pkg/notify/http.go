package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"time"
)

// Response body limits. Connections are reused only when a body is read to
// its end, so Post drains what a server sends, up to drainLimit; beyond that
// closing the connection is cheaper than reading on.
const (
	// errorBodyLimit is how much of a failed response goes into the error.
	errorBodyLimit = 4 << 10
	// validateBodyLimit is how much a response validator sees. Slack's
	// chat.postMessage echoes the message, which may be long.
	validateBodyLimit = 1 << 20
	drainLimit        = 64 << 10
)

// ResponseValidator decides the outcome of a response that the status alone
// does not settle, such as Slack's 200 with "ok": false. It sees every
// response whose status is not retryable, and the status is not checked for
// it. A returned *Error keeps its classification; any other error is
// permanent.
type ResponseValidator func(status int, body []byte) error

// PostOption adjusts one request made by Post.
type PostOption func(*postOptions)

type postOptions struct {
	contentType string
	headers     []header
	user        string
	password    Secret
	basic       bool
	bearer      Secret
	validate    ResponseValidator
	secrets     []Secret
	now         func() time.Time
}

type header struct {
	name, value string
	secret      bool
}

// WithContentType replaces the default application/json.
func WithContentType(ct string) PostOption {
	return func(o *postOptions) { o.contentType = ct }
}

// WithHeader sets a header that is not secret. Headers are set in option
// order, so a later one overrides an earlier one, Content-Type included.
func WithHeader(name, value string) PostOption {
	return func(o *postOptions) { o.headers = append(o.headers, header{name, value, false}) }
}

// WithHeaders sets secret headers, sorted by name so that two names that
// differ only in case resolve the same way every time. Their values are
// masked out of errors.
func WithHeaders(h map[string]Secret) PostOption {
	return func(o *postOptions) {
		names := make([]string, 0, len(h))
		for k := range h {
			names = append(names, k)
		}
		slices.Sort(names)
		for _, k := range names {
			o.headers = append(o.headers, header{k, h[k].Reveal(), true})
		}
	}
}

// WithBasicAuth adds basic auth when user or password is non-empty, as
// Flux's poster does.
func WithBasicAuth(user string, password Secret) PostOption {
	return func(o *postOptions) {
		if user == "" && password == "" {
			return
		}
		o.basic, o.user, o.password = true, user, password
	}
}

// WithBearer adds "Authorization: Bearer <token>" when token is non-empty.
func WithBearer(token Secret) PostOption {
	return func(o *postOptions) {
		if token == "" {
			return
		}
		o.bearer = token
	}
}

// WithResponseValidator installs a check of the response body.
func WithResponseValidator(v ResponseValidator) PostOption {
	return func(o *postOptions) { o.validate = v }
}

// WithMask adds values to mask out of errors beyond an Endpoint's Secrets.
// The URL, bearer token, basic credentials and secret headers of the
// request are masked without it.
func WithMask(secrets ...Secret) PostOption {
	return func(o *postOptions) { o.secrets = append(o.secrets, secrets...) }
}

// WithClock sets the clock that resolves a Retry-After HTTP-date.
func WithClock(now func() time.Time) PostOption {
	return func(o *postOptions) { o.now = now }
}

func postJSON(ctx context.Context, client *http.Client, address string, payload any, opts ...PostOption) error {
	body, err := json.Marshal(payload)
	if err != nil {
		return Permanent(fmt.Errorf("marshalling notification payload failed: %w", err))
	}
	return post(ctx, client, http.MethodPost, address, body, opts...)
}

// post makes exactly one request and classifies its outcome with Classify.
// address is treated as a secret: it never appears in the error, and
// neither does any value of the request's credentials or the WithMask list.
// Every response body is drained up to a cap and closed, so the connection
// goes back to the pool. A nil client means the shared default client.
// Redirects follow redirect.Check (RedirectSafe), whatever policy client
// has.
func post(ctx context.Context, client *http.Client, method, address string, body []byte, opts ...PostOption) error {
	o := postOptions{contentType: "application/json", now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	return o.mask(send(ctx, client, method, address, body, &o), address)
}

func send(ctx context.Context, client *http.Client, method, address string, body []byte, o *postOptions) error {
	// Whoever built the client, a request follows the one redirect policy.
	client = RedirectSafe(client)
	req, err := http.NewRequestWithContext(ctx, method, address, bytes.NewReader(body))
	if err != nil {
		return Permanent(requestError(err))
	}
	req.Header.Set("Content-Type", o.contentType)
	if o.basic {
		req.SetBasicAuth(o.user, o.password.Reveal())
	}
	if o.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+o.bearer.Reveal())
	}
	for _, h := range o.headers {
		req.Header.Set(h.name, h.value)
	}

	resp, err := client.Do(req)
	if err != nil {
		return Classify(method, nil, nil, err, o.now())
	}
	defer drainClose(resp.Body)

	code := resp.StatusCode
	if o.validate != nil && !RetryableStatus(code) {
		data, err := io.ReadAll(io.LimitReader(resp.Body, validateBodyLimit))
		if err != nil {
			// %w keeps a context error detectable; mask drops everything else.
			return Retryable(fmt.Errorf("reading the response failed: %w", err))
		}
		return validated(o.validate(code, data))
	}
	var data []byte
	if code < 200 || code > 299 {
		// A read error here leaves a shorter body in the message; the status
		// already decides the outcome.
		data, _ = io.ReadAll(io.LimitReader(resp.Body, errorBodyLimit))
	}
	return Classify(method, resp, data, nil, o.now())
}

func validated(err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return Permanent(err)
}

// requestError reports why a request could not be built, without the URL
// that url.Parse puts into its error.
func requestError(err error) error {
	return fmt.Errorf("invalid request: %s", urlErrorReason(err))
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// quoted matches the pieces of the URL that net/url quotes in its reasons,
// e.g. `invalid port ":x" after host`, with the escapes of strconv.Quote,
// so that an escaped quote does not end the match.
var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)

// urlErrorReason is why a URL did not parse, without the URL or the pieces
// of it that the reason quotes: any of them may be the secret.
func urlErrorReason(err error) string {
	return quoted.ReplaceAllString(unwrapURLError(err).Error(), "<secret>")
}

// mask rewrites the text of err with every secret masked. The result
// unwraps only to context sentinels, so nothing can dig the original error,
// with its URL, out of the chain.
func (o *postOptions) mask(err error, address string) error {
	if err == nil {
		return nil
	}
	// Collected only on failure: success costs no URL parsing.
	secrets := append(slices.Clip(o.secrets), AddressFragments(address)...)
	if o.basic {
		secrets = append(secrets, o.password, basicCredentials(o.user, o.password.Reveal()))
	}
	secrets = append(secrets, o.bearer)
	for _, h := range o.headers {
		if h.secret {
			secrets = append(secrets, valueFragments(h.value)...)
		}
	}
	safe := newMaskedError(err, secrets)
	var e *Error
	if errors.As(err, &e) {
		return &Error{Retryable: e.Retryable, RetryAfter: e.RetryAfter, StatusCode: e.StatusCode, Err: safe}
	}
	return &Error{Retryable: IsRetryable(err), Err: safe}
}

func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, drainLimit))
	_ = body.Close()
}

// DefaultClient is the shared client without proxy or custom TLS, for
// configs built by hand rather than by Resolve.
func DefaultClient() *http.Client {
	c, err := DefaultTransports.Client(TransportSettings{})
	if err != nil {
		// Settings without TLS material cannot fail.
		panic(err)
	}
	return c
}

// parseAddress checks a provider address as Flux does, with
// url.ParseRequestURI, and returns it revealed for the one place that sends
// it. Its error names the problem, never the address.
func parseAddress(address Secret) (string, error) {
	raw := address.Reveal()
	if _, err := url.ParseRequestURI(raw); err != nil {
		return "", fmt.Errorf("invalid address: %s", urlErrorReason(err))
	}
	return raw, nil
}
