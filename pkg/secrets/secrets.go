// Package secrets reads and writes Herald's secrets in AWS Secrets Manager,
// as docs/aws.md lays them out: a Flux Secret NS/N is the secret
// "<prefix>NS/N" whose SecretString is a JSON object of its keys (string
// values), and a cluster's forwarder token is the key "token" of
// "<prefix>clusters/<cluster>".
//
// A Manager is built once per execution environment. It caches what it
// reads for a TTL, so a warm Lambda reads each secret at most once per TTL,
// and concurrent misses of the same secret share one request.
//
// Errors and logs name secrets, never their values: a malformed
// SecretString is reported without quoting it. A read that failed but may
// succeed later (throttling, a timeout) is a retryable notify.Error; a
// secret that does not exist matches ErrNotFound and, like a malformed one,
// is permanent.
package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/heraldhq/herald/pkg/clusterauth"
	"github.com/heraldhq/herald/pkg/notify"
)

// Defaults of Options.
const (
	DefaultPrefix      = "herald/"
	DefaultTTL         = 5 * time.Minute
	DefaultNegativeTTL = 30 * time.Second
	DefaultTimeout     = 10 * time.Second
)

// Changes reported by Put, as kubectl apply words them.
const (
	Created    = "created"
	Configured = "configured"
	Unchanged  = "unchanged"
)

// tokenKey is the key of a cluster secret that holds the forwarder's token.
const tokenKey = "token"

// ErrNotFound is matched (errors.Is) by the error of a secret that does not
// exist.
var ErrNotFound = errors.New("secret not found")

// API is the part of the Secrets Manager client a Manager uses;
// *secretsmanager.Client implements it.
type API interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
}

var _ API = (*secretsmanager.Client)(nil)

// Options tune a Manager. Zero values take the defaults.
type Options struct {
	// Prefix starts every secret name (HERALD_SECRET_PREFIX). Default
	// "herald/".
	Prefix string
	// TTL is how long a secret read is served from memory
	// (HERALD_SECRET_TTL). Default 5m.
	TTL time.Duration
	// NegativeTTL is how long "no such secret" is remembered, shorter than
	// TTL so that a secret created after a failed lookup is found soon.
	// Default 30s (capped at TTL).
	NegativeTTL time.Duration
	// Timeout bounds a read made for Lookup, which has no context, and a
	// read shared by concurrent callers. Default 10s.
	Timeout time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Manager reads and writes Herald's secrets. It is safe for concurrent use.
type Manager struct {
	client API
	opts   Options
	cache  *cache
}

// New returns a Manager on client. It makes no request.
func New(client API, opts Options) *Manager {
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.NegativeTTL <= 0 {
		opts.NegativeTTL = DefaultNegativeTTL
	}
	opts.NegativeTTL = min(opts.NegativeTTL, opts.TTL)
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Manager{client: client, opts: opts, cache: newCache()}
}

var _ notify.SecretLookup = (*Manager)(nil).Lookup

// Lookup returns the data of the Flux Secret namespace/name. It is a
// notify.SecretLookup.
func (m *Manager) Lookup(namespace, name string) (map[string][]byte, error) {
	ref := namespace + "/" + name
	if err := checkNamespace(namespace); err != nil {
		return nil, err
	}
	v, err := m.get(context.Background(), m.opts.Prefix+ref, ref)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(v.data))
	for k, s := range v.data {
		out[k] = []byte(s)
	}
	return out, nil
}

// ClusterToken returns the forwarder token of cluster, or ok=false when the
// cluster has none. It is a server.TokenFunc. The cluster name comes from an
// unauthenticated header, so a name that cannot be a cluster's is refused
// without a request.
func (m *Manager) ClusterToken(ctx context.Context, cluster string) ([]byte, bool, error) {
	if clusterauth.CheckClusterName(cluster) != nil {
		return nil, false, nil
	}
	ref := "clusters/" + cluster
	v, err := m.get(ctx, m.opts.Prefix+ref, ref)
	if errors.Is(err, ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	token, ok := v.data[tokenKey]
	if !ok {
		return nil, false, fmt.Errorf("secret '%s' has no key '%s'", ref, tokenKey)
	}
	// An empty key would let anyone sign requests.
	if token == "" {
		return nil, false, fmt.Errorf("secret '%s' has an empty '%s'", ref, tokenKey)
	}
	return []byte(token), true, nil
}

// clustersNamespace is the folder of the cluster tokens. A Flux Secret in a
// namespace of that name would share it: it could overwrite a token, or
// hand one to a Provider that sends it elsewhere.
const clustersNamespace = "clusters"

func checkNamespace(namespace string) error {
	if namespace == clustersNamespace {
		return fmt.Errorf("secrets of namespace '%s' are not supported: the name is reserved for the forwarders' cluster tokens", clustersNamespace)
	}
	return nil
}

// Put writes data as the Flux Secret namespace/name for herald apply and
// says what changed: Created, Configured or Unchanged. It reads the current
// value first, so an unchanged secret gets no new version.
func (m *Manager) Put(ctx context.Context, namespace, name string, data map[string][]byte) (string, error) {
	ref := namespace + "/" + name
	if err := checkNamespace(namespace); err != nil {
		return "", err
	}
	id := m.opts.Prefix + ref
	want := make(map[string]string, len(data))
	for k, v := range data {
		// JSON strings cannot carry other bytes: they would be replaced.
		if !utf8.Valid(v) {
			return "", fmt.Errorf("secret '%s': the value of key '%s' is not UTF-8 text, which a SecretString cannot hold", ref, k)
		}
		want[k] = string(v)
	}
	current, err := m.fetch(ctx, id, ref)
	switch {
	case errors.Is(err, errMalformed):
		// Overwritten below: apply repairs what it owns.
	case err != nil:
		return "", err
	case !current.missing && maps.Equal(current.data, want):
		m.cache.store(id, current, m.opts.Now().Add(m.opts.TTL))
		return Unchanged, nil
	}
	return m.write(ctx, id, ref, "Flux Secret "+ref+", written by herald apply", current, want)
}

// write stores want as the secret id, creating it when current says it is
// missing, and caches it.
func (m *Manager) write(ctx context.Context, id, ref, description string, current value, want map[string]string) (string, error) {
	body, jerr := json.Marshal(want)
	if jerr != nil {
		return "", fmt.Errorf("secret '%s': encoding failed", ref)
	}

	change := Configured
	if current.missing {
		change = Created
		_, err := m.client.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name:         aws.String(id),
			SecretString: aws.String(string(body)),
			Description:  aws.String(description),
		})
		var exists *types.ResourceExistsException
		if errors.As(err, &exists) {
			// Created meanwhile by someone else: overwrite, as apply does.
			change = Configured
		} else if err != nil {
			return "", fmt.Errorf("secretsmanager CreateSecret %s: %w", id, err)
		}
	}
	if change == Configured {
		if _, err := m.client.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
			SecretId:     aws.String(id),
			SecretString: aws.String(string(body)),
		}); err != nil {
			return "", fmt.Errorf("secretsmanager PutSecretValue %s: %w", id, err)
		}
	}
	m.cache.store(id, value{data: want}, m.opts.Now().Add(m.opts.TTL))
	return change, nil
}

// ErrClusterExists is returned by AddClusterToken for a cluster that has a
// token already and replace is not set.
var ErrClusterExists = errors.New("the cluster has a token already")

// AddClusterToken stores token as the forwarder token of cluster, for
// herald cluster add. A cluster that has a token keeps it unless replace is
// set, so that a second add cannot cut a running forwarder off by mistake.
// It says what changed: Created or Configured.
func (m *Manager) AddClusterToken(ctx context.Context, cluster string, token []byte, replace bool) (string, error) {
	if err := clusterauth.CheckClusterName(cluster); err != nil {
		return "", err
	}
	if len(token) == 0 || !utf8.Valid(token) {
		return "", errors.New("a cluster token must be non-empty text")
	}
	ref := "clusters/" + cluster
	id := m.opts.Prefix + ref
	current, err := m.fetch(ctx, id, ref)
	switch {
	case errors.Is(err, errMalformed):
		if !replace {
			return "", fmt.Errorf("cluster '%s': %w (its secret is malformed; replace it)", cluster, ErrClusterExists)
		}
	case err != nil:
		return "", err
	case !current.missing && !replace:
		return "", fmt.Errorf("cluster '%s': %w", cluster, ErrClusterExists)
	}
	return m.write(ctx, id, ref, "Herald forwarder token of cluster "+cluster+", written by herald cluster add", current, map[string]string{tokenKey: string(token)})
}

// value is a secret as read: its keys, or missing.
type value struct {
	data    map[string]string
	missing bool
}

// get returns the secret id from the cache, or reads it once for all
// concurrent callers. ref names it in errors.
func (m *Manager) get(ctx context.Context, id, ref string) (value, error) {
	now := m.opts.Now()
	v, err := m.cache.get(id, now, func() (value, time.Time, error) {
		// The read is shared, so it must not end with the first caller.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.opts.Timeout)
		defer cancel()
		v, err := m.fetch(ctx, id, ref)
		if err != nil {
			return value{}, time.Time{}, err
		}
		if v.missing {
			return v, m.opts.Now().Add(m.opts.NegativeTTL), nil
		}
		return v, m.opts.Now().Add(m.opts.TTL), nil
	})
	if err != nil {
		return value{}, err
	}
	if v.missing {
		return value{}, notFound(ref)
	}
	return v, nil
}

// fetch reads the secret id. A secret that does not exist is a value with
// missing set, so that it can be cached; errors are for everything else.
func (m *Manager) fetch(ctx context.Context, id, ref string) (value, error) {
	out, err := m.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return value{missing: true}, nil
	}
	if err != nil {
		err = fmt.Errorf("secretsmanager GetSecretValue %s: %w", id, err)
		if !permanent(err) {
			// Throttled, timed out, unreachable: a delivery that needs this
			// secret is retried rather than dead-lettered.
			err = notify.Retryable(err)
		}
		return value{}, err
	}
	if out.SecretString == nil {
		return value{}, fmt.Errorf("secret '%s' has no SecretString (binary secrets are not supported)", ref)
	}
	var data map[string]string
	// The decoder's error may quote part of the content, so it is dropped.
	if err := json.Unmarshal([]byte(*out.SecretString), &data); err != nil || data == nil {
		return value{}, fmt.Errorf("secret '%s': %w", ref, errMalformed)
	}
	return value{data: data}, nil
}

// permanentCodes are the GetSecretValue errors that no retry can cure:
// the caller may not read the secret, its key cannot decrypt it, or it is
// scheduled for deletion. Every other failure may pass by itself.
var permanentCodes = map[string]bool{
	"AccessDeniedException":     true,
	"DecryptionFailure":         true,
	"InvalidParameterException": true,
	"InvalidRequestException":   true,
}

func permanent(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && permanentCodes[apiErr.ErrorCode()]
}

// errMalformed is a SecretString that is not a JSON object of string values.
var errMalformed = errors.New("SecretString is not a JSON object of string values")

type notFoundError struct{ ref string }

func notFound(ref string) error { return &notFoundError{ref: ref} }

func (e *notFoundError) Error() string        { return fmt.Sprintf("secret '%s' not found", e.ref) }
func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }
