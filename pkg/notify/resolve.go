package notify

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/pkg/api"
)

// SecretLookup returns the data of the Secret namespace/name. In AWS it reads
// Secrets Manager, locally the embedded store.
type SecretLookup func(namespace, name string) (map[string][]byte, error)

// Resolve turns a Provider and its secrets into a Config, the way Flux's
// notification-controller does (createNotifier, extractAuthFromSecret), with
// an HTTP client from DefaultTransports.
func Resolve(p api.Provider, lookup SecretLookup) (Config, error) {
	return Resolver{Lookup: lookup}.Resolve(p)
}

// Resolver resolves Providers against a secret source and a transport pool.
type Resolver struct {
	Lookup SecretLookup
	// Transports hands out the HTTP clients; nil means DefaultTransports.
	Transports *TransportPool
}

// maxAddressLength is Flux's limit on a secret's address and on a proxy
// address (the CRD puts the same limit on spec.address and spec.proxy).
const maxAddressLength = 2048

// timeoutPattern is the Provider CRD's pattern for spec.timeout.
var timeoutPattern = regexp.MustCompile(`^([0-9]+(\.[0-9]+)?(ms|s|m))+$`)

// Resolve builds the Config of p. Later sources override earlier ones, as in
// Flux: spec, then the main secret, then proxySecretRef. The errors name
// secrets and keys, never their values.
func (r Resolver) Resolve(p api.Provider) (Config, error) {
	spec := p.Spec
	cfg := Config{
		Type:      spec.Type,
		Name:      p.Metadata.Name,
		Namespace: p.Metadata.Namespace,
		UID:       api.StableUID(api.KindProvider, p.Metadata),
		Address:   Secret(spec.Address),
		Channel:   spec.Channel,
		Username:  spec.Username,
	}
	timeout, err := parseTimeout(spec.Timeout)
	if err != nil {
		return Config{}, err
	}
	cfg.Timeout = timeout

	var settings TransportSettings
	if spec.Proxy != "" {
		if settings.Proxy, err = url.Parse(spec.Proxy); err != nil {
			return Config{}, errors.New("invalid spec.proxy: not a URL")
		}
	}

	var mainSecret map[string][]byte
	if spec.SecretRef != nil {
		if mainSecret, err = r.get(p.Metadata.Namespace, spec.SecretRef.Name); err != nil {
			return Config{}, err
		}
		if err := applySecret(&cfg, &settings, p.Metadata.Namespace, spec.SecretRef.Name, mainSecret); err != nil {
			return Config{}, err
		}
	}

	if spec.ProxySecretRef != nil {
		data, err := r.get(p.Metadata.Namespace, spec.ProxySecretRef.Name)
		if err != nil {
			return Config{}, err
		}
		if settings.Proxy, err = proxyFromSecret(p.Metadata.Namespace+"/"+spec.ProxySecretRef.Name, data); err != nil {
			return Config{}, fmt.Errorf("failed to get proxy URL: %w", err)
		}
	}

	facts := api.ProviderTypeOf(spec.Type)
	switch {
	case spec.CertSecretRef != nil:
		data, err := r.get(p.Metadata.Namespace, spec.CertSecretRef.Name)
		if err != nil {
			return Config{}, err
		}
		ref := p.Metadata.Namespace + "/" + spec.CertSecretRef.Name
		if err := tlsFromSecret(&settings, ref, data, true); err != nil {
			return Config{}, fmt.Errorf("failed to get TLS config: %w", err)
		}
	case facts.Class == api.CommitStatus && mainSecret != nil:
		// Flux's getTLSConfigForProvider lets commit-status types read TLS
		// material from the main secret when they have no certSecretRef.
		ref := p.Metadata.Namespace + "/" + spec.SecretRef.Name
		if err := tlsFromSecret(&settings, ref, mainSecret, false); err != nil {
			return Config{}, fmt.Errorf("failed to get TLS config: %w", err)
		}
	}

	// Like Flux, read and check every setting, then leave out those the
	// type's notifier never uses: a CA meant for a self-hosted endpoint must
	// not replace the system roots on a call to discord.com.
	if facts.IgnoresTLS {
		settings.CA, settings.Cert, settings.Key = nil, nil, nil
	}
	if facts.IgnoresProxy {
		settings.Proxy = nil
	}
	if settings.Proxy != nil {
		cfg.Proxy = Secret(settings.Proxy.String())
	}
	pool := r.Transports
	if pool == nil {
		pool = DefaultTransports
	}
	if cfg.HTTPClient, err = pool.Client(settings); err != nil {
		return Config{}, fmt.Errorf("failed to get TLS config: %w", err)
	}
	return cfg, nil
}

func (r Resolver) get(namespace, name string) (map[string][]byte, error) {
	if r.Lookup == nil {
		return nil, fmt.Errorf("failed to get secret '%s/%s': no secret source", namespace, name)
	}
	data, err := r.Lookup(namespace, name)
	if err != nil {
		return nil, fmt.Errorf("failed to get secret '%s/%s': %w", namespace, name, err)
	}
	return data, nil
}

func parseTimeout(v string) (time.Duration, error) {
	if v == "" {
		return DefaultTimeout, nil
	}
	if !timeoutPattern.MatchString(v) {
		return 0, fmt.Errorf("invalid spec.timeout '%s': must match %s", v, timeoutPattern)
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("invalid spec.timeout '%s': %w", v, err)
	}
	// The pattern admits "0s", with which Flux times every attempt out at
	// once; refusing it at load time says so instead.
	if d <= 0 {
		return 0, fmt.Errorf("invalid spec.timeout '%s': must be greater than zero", v)
	}
	return d, nil
}

// applySecret reads the main secret's keys into cfg (extractAuthFromSecret).
func applySecret(cfg *Config, settings *TransportSettings, ns, name string, data map[string][]byte) error {
	if v, ok := data["address"]; ok {
		// Flux measures the raw value, then trims it.
		if len(v) > maxAddressLength {
			return fmt.Errorf("invalid address in secret: address exceeds maximum length of %d bytes", maxAddressLength)
		}
		cfg.Address = Secret(strings.TrimSpace(string(v)))
	}
	if v, ok := data["proxy"]; ok {
		raw := strings.TrimSpace(string(v))
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("invalid 'proxy' in secret '%s/%s'", ns, name)
		}
		// An empty value overrides spec.proxy with "no proxy", as in Flux,
		// whose poster skips an empty proxy URL.
		settings.Proxy = nil
		if raw != "" {
			settings.Proxy = u
		}
	}
	if v, ok := data["headers"]; ok {
		h := map[string]string{}
		if err := yaml.Unmarshal(v, &h); err != nil {
			return fmt.Errorf("failed to read headers from secret: %s", redactYAMLError(err))
		}
		cfg.Headers = make(map[string]Secret, len(h))
		for k, v := range h {
			cfg.Headers[k] = Secret(v)
		}
	}

	// Flux's runtime/secrets fails on a username without a password or the
	// reverse, and the notification-controller then ignores token, username
	// and password from this secret altogether. Herald does the same.
	_, hasUser := data["username"]
	_, hasPassword := data["password"]
	if hasUser == hasPassword {
		if hasUser {
			cfg.Username = string(data["username"])
			cfg.Password = Secret(data["password"])
		}
		if v, ok := data["token"]; ok {
			cfg.Token = Secret(v) // raw: Flux trims only the copy it masks with
		}
	}

	cfg.SecretData = make(map[string]Secret, len(data))
	for k, v := range data {
		cfg.SecretData[k] = Secret(v)
	}
	return nil
}

// yamlQuoted matches what yaml.v3 quotes in its errors: values between
// backquotes, such as "cannot decode !!str `abc` as a !!int", which may
// hold backquotes themselves, and alias names, as in "unknown anchor 'abc'
// referenced", since an unquoted value starting with '*' is read as one.
var yamlQuoted = regexp.MustCompile("(?s)`.*`|'[0-9A-Za-z_-]*'")

// redactYAMLError keeps the line numbers and the reason of a YAML error, but
// not the header values it may quote.
func redactYAMLError(err error) string {
	return yamlQuoted.ReplaceAllString(err.Error(), "<secret>")
}

// proxyFromSecret reads a proxySecretRef secret: address (required, http,
// https or socks5, at most 2048 characters) and optional username and
// password, which become the URL's userinfo.
func proxyFromSecret(ref string, data map[string][]byte) (*url.URL, error) {
	raw, ok := data["address"]
	switch {
	case !ok:
		return nil, fmt.Errorf("secret '%s': key 'address' not found", ref)
	case len(raw) == 0:
		return nil, fmt.Errorf("secret '%s': proxy address is empty", ref)
	case len(raw) > maxAddressLength:
		return nil, fmt.Errorf("secret '%s': proxy address exceeds maximum length of %d characters", ref, maxAddressLength)
	}
	u, err := url.Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("secret '%s': failed to parse proxy address: %s", ref, urlErrorReason(err))
	}
	// The scheme is not printed: "user:pass@host" parses with "user" as it.
	switch u.Scheme {
	case "http", "https", "socks5":
	default:
		return nil, fmt.Errorf("secret '%s': proxy address scheme must be http, https or socks5", ref)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("secret '%s': proxy address has no host", ref)
	}
	user, hasUser := data["username"]
	password, hasPassword := data["password"]
	switch {
	case hasUser && hasPassword:
		u.User = url.UserPassword(string(user), string(password))
	case hasUser:
		u.User = url.User(string(user))
	}
	return u, nil
}

// tlsFromSecret reads ca.crt, tls.crt and tls.key (or the legacy caFile,
// certFile and keyFile) into settings. strict is false for the main secret
// of a commit-status provider, where Flux ignores incomplete TLS data.
func tlsFromSecret(settings *TransportSettings, ref string, data map[string][]byte, strict bool) error {
	pick := func(key, legacy string) []byte {
		if v, ok := data[key]; ok {
			return v
		}
		return data[legacy]
	}
	ca, cert, key := pick("ca.crt", "caFile"), pick("tls.crt", "certFile"), pick("tls.key", "keyFile")
	hasCert, hasKey := len(cert) > 0, len(key) > 0
	var invalid error
	switch {
	case hasCert && !hasKey:
		invalid = fmt.Errorf("secret '%s' contains 'tls.crt' but missing 'tls.key'", ref)
	case hasKey && !hasCert:
		invalid = fmt.Errorf("secret '%s' contains 'tls.key' but missing 'tls.crt'", ref)
	case len(ca) == 0 && !hasCert:
		invalid = fmt.Errorf("secret '%s' must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'", ref)
	}
	if invalid != nil {
		if strict {
			return invalid
		}
		return nil
	}
	settings.CA, settings.Cert, settings.Key = ca, cert, key
	// Parse now, so the error names the secret rather than surfacing later.
	if _, err := settings.tlsConfig(); err != nil {
		return fmt.Errorf("secret '%s': %w", ref, err)
	}
	return nil
}
