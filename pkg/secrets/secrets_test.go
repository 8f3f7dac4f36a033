package secrets_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/heraldhq/herald/internal/awstest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/notify"
	"github.com/heraldhq/herald/pkg/secrets"
	"github.com/heraldhq/herald/pkg/server"
)

var (
	_ notify.SecretLookup = (&secrets.Manager{}).Lookup
	_ server.TokenFunc    = (&secrets.Manager{}).ClusterToken
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newManager(t *testing.T, opts secrets.Options) (*secrets.Manager, *awstest.SecretsManager, *clock) {
	t.Helper()
	sm := awstest.NewSecretsManager(t)
	c := &clock{t: time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)}
	if opts.Now == nil {
		opts.Now = c.Now
	}
	return secrets.New(sm.Client(), opts), sm, c
}

func set(t *testing.T, sm *awstest.SecretsManager, name string, data map[string]string) {
	t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	sm.Set(name, string(b))
}

func bytesMap(m map[string]string) map[string][]byte {
	out := map[string][]byte{}
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

func equalData(a, b map[string][]byte) bool {
	return maps.EqualFunc(a, b, func(x, y []byte) bool { return string(x) == string(y) })
}

func TestLookup(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	data := map[string]string{"address": "https://hooks.example.com/services/T0/B0/XYZ", "headers": "X-A: b\n"}
	set(t, sm, "herald/flux-system/slack-url", data)

	got, err := m.Lookup("flux-system", "slack-url")
	if err != nil {
		t.Fatal(err)
	}
	if !equalData(got, bytesMap(data)) {
		t.Fatalf("Lookup = %q, want %q", got, data)
	}
	if calls := sm.Calls(); len(calls) != 1 || calls[0] != (awstest.SecretsCall{Op: "GetSecretValue", SecretID: "herald/flux-system/slack-url"}) {
		t.Fatalf("calls %+v", calls)
	}
	// The caller's copy is its own: changing it does not change the cache.
	got["address"][0] = 'X'
	again, _ := m.Lookup("flux-system", "slack-url")
	if string(again["address"]) != data["address"] {
		t.Fatal("a caller's change reached the cache")
	}
}

func TestLookupPrefix(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{Prefix: "prod/herald/"})
	set(t, sm, "prod/herald/apps/webhook", map[string]string{"address": "http://x"})
	if _, err := m.Lookup("apps", "webhook"); err != nil {
		t.Fatal(err)
	}
}

func TestCacheTTL(t *testing.T) {
	m, sm, c := newManager(t, secrets.Options{TTL: 5 * time.Minute})
	set(t, sm, "herald/ns/s", map[string]string{"token": "v1"})

	for range 50 {
		got, err := m.Lookup("ns", "s")
		if err != nil || string(got["token"]) != "v1" {
			t.Fatalf("Lookup = %q, %v", got, err)
		}
		c.Advance(5 * time.Second) // 250 s in all: within the TTL
	}
	if n := sm.Count("GetSecretValue"); n != 1 {
		t.Fatalf("%d GetSecretValue within the TTL, want 1", n)
	}

	// Rotated: the old value is served until the TTL has passed.
	set(t, sm, "herald/ns/s", map[string]string{"token": "v2"})
	c.Advance(49 * time.Second) // 299 s
	if got, _ := m.Lookup("ns", "s"); string(got["token"]) != "v1" {
		t.Fatalf("within the TTL got %q, want the cached v1", got["token"])
	}
	c.Advance(time.Second) // 300 s: expired
	if got, _ := m.Lookup("ns", "s"); string(got["token"]) != "v2" {
		t.Fatalf("after the TTL got %q, want v2", got["token"])
	}
	if n := sm.Count("GetSecretValue"); n != 2 {
		t.Fatalf("%d GetSecretValue, want 2", n)
	}
}

func TestConcurrentMissesShareOneRead(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	set(t, sm, "herald/ns/s", map[string]string{"token": "v"})
	arrived := make(chan struct{}, 200)
	release := make(chan struct{})
	sm.BeforeAnswer = func(string, string) {
		arrived <- struct{}{}
		<-release
	}

	const callers = 100
	var started, done sync.WaitGroup
	errs := make(chan error, callers)
	started.Add(callers)
	done.Add(callers)
	for range callers {
		go func() {
			defer done.Done()
			started.Done()
			got, err := m.Lookup("ns", "s")
			if err == nil && string(got["token"]) != "v" {
				err = errors.New("wrong value")
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	started.Wait()
	<-arrived
	// Give callers that would read on their own the time to do so.
	time.Sleep(200 * time.Millisecond)
	close(release)
	done.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := sm.Count("GetSecretValue"); n != 1 {
		t.Fatalf("%d callers made %d GetSecretValue, want 1", callers, n)
	}
}

func TestNotFound(t *testing.T) {
	m, sm, c := newManager(t, secrets.Options{})
	_, err := m.Lookup("apps", "missing")
	if err == nil || err.Error() != "secret 'apps/missing' not found" || !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("err = %v, want secret 'apps/missing' not found", err)
	}
	// Resolve's wording around it, as a Provider with this secretRef sees it.
	_, err = notify.Resolve(providerWithSecret("apps", "missing"), m.Lookup)
	if err == nil || !strings.Contains(err.Error(), "secret 'apps/missing' not found") {
		t.Fatalf("Resolve err = %v", err)
	}

	// Absence is remembered briefly; a secret created then is found soon.
	set(t, sm, "herald/apps/missing", map[string]string{"address": "http://x"})
	if _, err := m.Lookup("apps", "missing"); !errors.Is(err, secrets.ErrNotFound) {
		t.Fatalf("within the negative TTL: %v", err)
	}
	if n := sm.Count("GetSecretValue"); n != 1 {
		t.Fatalf("%d GetSecretValue, want 1", n)
	}
	c.Advance(secrets.DefaultNegativeTTL)
	if _, err := m.Lookup("apps", "missing"); err != nil {
		t.Fatalf("after the negative TTL: %v", err)
	}
}

func TestMalformed(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	for name, content := range map[string]string{
		"not-json":   `address=https://hooks.example.com/SECRETVALUE1`,
		"not-object": `["SECRETVALUE2"]`,
		"number":     `{"token": 4242424242, "address": "SECRETVALUE3"}`,
		"truncated":  `{"token": "SECRETVALUE4`,
		"null":       `null`,
	} {
		sm.Set("herald/ns/"+name, content)
		_, err := m.Lookup("ns", name)
		want := "secret 'ns/" + name + "': SecretString is not a JSON object of string values"
		if err == nil || err.Error() != want {
			t.Errorf("%s: err = %v, want %q", name, err, want)
		}
	}
}

func TestClusterToken(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	set(t, sm, "herald/clusters/prod-eu", map[string]string{"token": "s3cr3t-token"})
	set(t, sm, "herald/clusters/empty", map[string]string{"token": ""})
	set(t, sm, "herald/clusters/nokey", map[string]string{"tok": "x"})
	ctx := context.Background()

	token, ok, err := m.ClusterToken(ctx, "prod-eu")
	if err != nil || !ok || string(token) != "s3cr3t-token" {
		t.Fatalf("ClusterToken = %q, %v, %v", token, ok, err)
	}
	if _, ok, err := m.ClusterToken(ctx, "unknown"); ok || err != nil {
		t.Fatalf("unknown cluster: ok=%v err=%v, want ok=false and no error", ok, err)
	}
	if _, ok, err := m.ClusterToken(ctx, "empty"); ok || err == nil || !strings.Contains(err.Error(), "empty 'token'") {
		t.Fatalf("empty token: ok=%v err=%v; an empty HMAC key must not authenticate", ok, err)
	}
	if _, ok, err := m.ClusterToken(ctx, "nokey"); ok || err == nil || err.Error() != "secret 'clusters/nokey' has no key 'token'" {
		t.Fatalf("no token key: ok=%v err=%v", ok, err)
	}

	// Names from the unauthenticated header that no cluster can have are
	// refused without a request.
	sm.Reset()
	// A secret written by hand under such a name does not make it one:
	// a cluster name is a DNS label, as herald cluster add enforces.
	for _, name := range []string{"Prod", "prod.eu", "prod_eu"} {
		set(t, sm, "herald/clusters/"+name, map[string]string{"token": "s3cr3t-token"})
	}
	sm.Reset()
	for _, name := range []string{"", "../flux-system/slack-url", "a/b", strings.Repeat("x", 64), "-x", "Prod", "prod.eu", "prod_eu", "we ird/../c lé"} {
		if _, ok, err := m.ClusterToken(ctx, name); ok || err != nil {
			t.Errorf("ClusterToken(%q) = ok %v, err %v", name, ok, err)
		}
	}
	if n := len(sm.Calls()); n != 0 {
		t.Fatalf("invalid names made %d requests", n)
	}
}

func TestPut(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	ctx := context.Background()
	data := map[string][]byte{"address": []byte("https://hooks.example.com/a"), "token": []byte("t1")}

	change, err := m.Put(ctx, "flux-system", "webhook", data)
	if err != nil || change != secrets.Created {
		t.Fatalf("first Put = %q, %v; want created", change, err)
	}
	stored, ok := sm.Value("herald/flux-system/webhook")
	var got map[string]string
	if !ok || json.Unmarshal([]byte(stored), &got) != nil || !equalData(bytesMap(got), data) {
		t.Fatalf("stored %q", stored)
	}
	if sm.Count("CreateSecret") != 1 || sm.Count("PutSecretValue") != 0 {
		t.Fatalf("calls %+v", sm.Calls())
	}

	// Lookup after Put needs no read.
	sm.Reset()
	if got, err := m.Lookup("flux-system", "webhook"); err != nil || !equalData(got, data) {
		t.Fatalf("Lookup after Put = %q, %v", got, err)
	}
	if n := len(sm.Calls()); n != 0 {
		t.Fatalf("Lookup after Put made %d requests", n)
	}

	sm.Reset()
	change, err = m.Put(ctx, "flux-system", "webhook", map[string][]byte{"token": []byte("t1"), "address": []byte("https://hooks.example.com/a")})
	if err != nil || change != secrets.Unchanged {
		t.Fatalf("same Put = %q, %v; want unchanged", change, err)
	}
	if calls := sm.Calls(); len(calls) != 1 || calls[0].Op != "GetSecretValue" {
		t.Fatalf("an unchanged Put made %+v, want one GetSecretValue", calls)
	}

	data["token"] = []byte("t2")
	change, err = m.Put(ctx, "flux-system", "webhook", data)
	if err != nil || change != secrets.Configured {
		t.Fatalf("changed Put = %q, %v; want configured", change, err)
	}
	if sm.Count("PutSecretValue") != 1 || sm.Count("CreateSecret") != 0 {
		t.Fatalf("calls %+v", sm.Calls())
	}
	if got, _ := m.Lookup("flux-system", "webhook"); string(got["token"]) != "t2" {
		t.Fatalf("Lookup after Put = %q", got["token"])
	}

	// A malformed value is repaired, not an obstacle.
	sm.Set("herald/flux-system/broken", "{nope")
	if change, err := m.Put(ctx, "flux-system", "broken", data); err != nil || change != secrets.Configured {
		t.Fatalf("Put over a malformed value = %q, %v", change, err)
	}
}

func TestAddClusterToken(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	ctx := context.Background()

	change, err := m.AddClusterToken(ctx, "prod-eu", []byte("tok-1"), false)
	if err != nil || change != secrets.Created {
		t.Fatalf("first add = %q, %v; want created", change, err)
	}
	if stored, _ := sm.Value("herald/clusters/prod-eu"); stored != `{"token":"tok-1"}` {
		t.Fatalf("stored %q", stored)
	}
	if token, ok, err := m.ClusterToken(ctx, "prod-eu"); err != nil || !ok || string(token) != "tok-1" {
		t.Fatalf("ClusterToken after add = %q, %v, %v", token, ok, err)
	}

	// A second add keeps the running forwarder's token.
	sm.Reset()
	_, err = m.AddClusterToken(ctx, "prod-eu", []byte("tok-2"), false)
	if !errors.Is(err, secrets.ErrClusterExists) || strings.Contains(err.Error(), "tok-") {
		t.Fatalf("second add = %v, want ErrClusterExists without the token", err)
	}
	if sm.Count("PutSecretValue") != 0 || sm.Count("CreateSecret") != 0 {
		t.Fatalf("a refused add wrote: %+v", sm.Calls())
	}

	// Replacing rotates it.
	change, err = m.AddClusterToken(ctx, "prod-eu", []byte("tok-2"), true)
	if err != nil || change != secrets.Configured {
		t.Fatalf("replace = %q, %v; want configured", change, err)
	}
	if stored, _ := sm.Value("herald/clusters/prod-eu"); stored != `{"token":"tok-2"}` {
		t.Fatalf("stored after replace %q", stored)
	}

	for _, name := range []string{"Prod", "../flux-system/x", "", "a_b"} {
		if _, err := m.AddClusterToken(ctx, name, []byte("t"), false); err == nil {
			t.Errorf("AddClusterToken(%q) accepted a name that is not a DNS label", name)
		}
	}
	if _, err := m.AddClusterToken(ctx, "empty", nil, false); err == nil {
		t.Fatal("an empty token was accepted: it would let anyone sign requests")
	}
}

// No error says a secret's value, whatever goes wrong.
func TestErrorsLeakNoSecret(t *testing.T) {
	const secret = "hunter2-SECRET-value"
	m, sm, _ := newManager(t, secrets.Options{})
	ctx := context.Background()
	sm.Set("herald/ns/bad-json", `{"address": "`+secret+`",}`)
	sm.Set("herald/ns/bad-type", `{"address": ["`+secret+`"]}`)
	sm.Set("herald/ns/bad-syntax", secret)
	sm.Set("herald/clusters/bad", `{"token": `+secret+`}`)
	sm.Set("herald/clusters/wrong-key", `{"tokn": "`+secret+`"}`)

	var errs []error
	for _, name := range []string{"bad-json", "bad-type", "bad-syntax", "missing"} {
		_, err := m.Lookup("ns", name)
		errs = append(errs, err)
		_, err = notify.Resolve(providerWithSecret("ns", name), m.Lookup)
		errs = append(errs, err)
	}
	for _, cluster := range []string{"bad", "wrong-key"} {
		_, _, err := m.ClusterToken(ctx, cluster)
		errs = append(errs, err)
	}
	_, err := m.Put(ctx, "ns", "binary", map[string][]byte{"tls.key": append([]byte(secret), 0xff, 0xfe)})
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: no error", i)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "SECRET") {
			t.Errorf("case %d: error leaks the secret: %v", i, err)
		}
	}
}

func providerWithSecret(namespace, secret string) api.Provider {
	return api.Provider{
		TypeMeta: api.TypeMeta{APIVersion: api.NotificationGroup + "/v1beta3", Kind: api.KindProvider},
		Metadata: api.ObjectMeta{Namespace: namespace, Name: "p"},
		Spec:     api.ProviderSpec{Type: "generic", SecretRef: &api.LocalObjectReference{Name: secret}},
	}
}

// Secrets of a namespace named "clusters" would be the cluster tokens.
func TestClustersNamespaceIsReserved(t *testing.T) {
	m, sm, _ := newManager(t, secrets.Options{})
	set(t, sm, "herald/clusters/prod", map[string]string{"token": "t"})
	if _, err := m.Lookup("clusters", "prod"); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Fatalf("Lookup of clusters/prod: %v", err)
	}
	if _, err := m.Put(context.Background(), "clusters", "prod", map[string][]byte{"token": []byte("mine")}); err == nil {
		t.Fatal("Put overwrote a cluster token")
	}
	if v, _ := sm.Value("herald/clusters/prod"); v != `{"token":"t"}` {
		t.Fatalf("token secret is %q", v)
	}
	if n := len(sm.Calls()); n != 0 {
		t.Fatalf("%d requests", n)
	}
}

// A read that may succeed later is a retryable notify.Error, through
// notify.Resolve too, so that deliveries needing the secret are retried;
// one that cannot (missing, not allowed, malformed) is not. Failures are
// not cached.
func TestLookupFailureClassification(t *testing.T) {
	sm := awstest.NewSecretsManager(t)
	// One SDK attempt per read: the classification, not the SDK's retries,
	// is under test.
	m := secrets.New(sm.Client(func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }), secrets.Options{})
	set(t, sm, "herald/apps/hook", map[string]string{"address": "https://hooks.example.com/SECRETVALUE"})
	set(t, sm, "herald/apps/bad", map[string]string{})
	sm.Set("herald/apps/bad", "not json")
	retryable := func(err error) bool {
		var e *notify.Error
		return errors.As(err, &e) && e.Retryable
	}
	for _, tc := range []struct {
		name, secret string
		status       int
		code         string
		retry        bool
	}{
		{"throttled", "hook", 400, "ThrottlingException", true},
		{"service error", "hook", 500, "InternalServiceError", true},
		{"access denied", "hook", 400, "AccessDeniedException", false},
		{"scheduled for deletion", "hook", 400, "InvalidRequestException", false},
		{"missing", "missing", 0, "", false},
		{"malformed", "bad", 0, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sm.FailWith = func(string, string) (int, string) { return tc.status, tc.code }
			_, err := m.Lookup("apps", tc.secret)
			if err == nil || retryable(err) != tc.retry {
				t.Fatalf("Lookup: err = %v, retryable %v, want an error with retryable %v", err, retryable(err), tc.retry)
			}
			_, err = notify.Resolve(providerWithSecret("apps", tc.secret), m.Lookup)
			if err == nil || retryable(err) != tc.retry {
				t.Fatalf("Resolve: err = %v, retryable %v, want %v", err, retryable(err), tc.retry)
			}
			if strings.Contains(err.Error(), "SECRETVALUE") {
				t.Fatalf("the secret leaked: %v", err)
			}
		})
	}
	sm.FailWith = nil
	if _, err := m.Lookup("apps", "hook"); err != nil {
		t.Fatalf("after the failures passed: %v", err)
	}
}
