package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/heraldhq/herald/internal/awstest"
)

// printedSecret is the part of the printed Secret the forwarder relies on.
type printedSecret struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string            `yaml:"name"`
		Namespace string            `yaml:"namespace"`
		Labels    map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	StringData map[string]string `yaml:"stringData"`
}

func parseSecret(t *testing.T, out string) printedSecret {
	t.Helper()
	var s printedSecret
	if err := yaml.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("printed Secret is not YAML: %v\n%s", err, out)
	}
	if s.APIVersion != "v1" || s.Kind != "Secret" || s.Metadata.Name != "herald-forwarder-token" ||
		s.Metadata.Namespace != "flux-system" {
		t.Fatalf("printed %+v, want the Secret herald-forwarder-token in flux-system", s)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(s.StringData["token"]) {
		t.Fatalf("token %q is not 256 bits in hex", s.StringData["token"])
	}
	return s
}

func TestClusterAddLocal(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	if err := os.WriteFile(file, []byte("staging: keep-me\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := herald(t, "cluster", "add", "prod-eu", "--cluster-tokens", file)
	if code != 0 {
		t.Fatalf("cluster add: exit %d\n%s", code, errOut)
	}
	secret := parseSecret(t, out)
	if secret.Metadata.Labels["herald.io/cluster"] != "prod-eu" {
		t.Fatalf("labels %v", secret.Metadata.Labels)
	}
	token := secret.StringData["token"]
	if strings.Contains(errOut, token) {
		t.Fatalf("the token went to stderr, where logs collect it: %s", errOut)
	}

	// herald serve reads back what was written, next to the existing entry.
	tokens, err := readClusterTokens(file)
	if err != nil {
		t.Fatal(err)
	}
	if tokens["prod-eu"] != token || tokens["staging"] != "keep-me" || len(tokens) != 2 {
		t.Fatalf("tokens file holds %v", tokens)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("tokens file mode %v, %v; want 0600", fi.Mode(), err)
	}

	// A second add keeps the forwarder's token; --rotate replaces it.
	code, out, errOut = herald(t, "cluster", "add", "prod-eu", "--cluster-tokens", file)
	if code != 1 || out != "" || !strings.Contains(errOut, "pass --rotate") {
		t.Fatalf("second add: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if tokens, _ := readClusterTokens(file); tokens["prod-eu"] != token {
		t.Fatal("a refused add changed the token")
	}
	code, out, errOut = herald(t, "cluster", "add", "prod-eu", "--cluster-tokens", file, "--rotate")
	if code != 0 {
		t.Fatalf("rotate: exit %d\n%s", code, errOut)
	}
	rotated := parseSecret(t, out).StringData["token"]
	if tokens, _ := readClusterTokens(file); rotated == token || tokens["prod-eu"] != rotated {
		t.Fatalf("rotate: printed %q, file %q, old %q", rotated, tokens["prod-eu"], token)
	}
}

func TestClusterAddRefusesBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens.yaml")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"cluster"}, 2, "the only subcommand is add"},
		{[]string{"cluster", "add"}, 2, "need exactly one NAME"},
		{[]string{"cluster", "add", "Prod", "--cluster-tokens", file}, 2, `"Prod": a cluster name may hold only lower-case letters`},
		{[]string{"cluster", "add", "we ird/../c", "--cluster-tokens", file}, 2, "lower-case letters"},
		{[]string{"cluster", "add", "a", "b", "--cluster-tokens", file}, 2, "need exactly one NAME"},
	} {
		code, out, errOut := herald(t, tc.args...)
		if code != tc.code || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("herald %v: exit %d, stdout %q, stderr %q; want exit %d saying %q", tc.args, code, out, errOut, tc.code, tc.want)
		}
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Fatalf("a refused add wrote the tokens file: %v", err)
	}

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("- not\n- a map\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := herald(t, "cluster", "add", "prod", "--cluster-tokens", bad)
	if code != 1 || !strings.Contains(errOut, bad+": want a YAML map of cluster name to token") {
		t.Fatalf("malformed tokens file: exit %d, %q", code, errOut)
	}

	// A file with a name herald serve would refuse is not extended: the
	// error names the file and the cluster.
	for content, want := range map[string]string{
		"'we ird/../c lé': t0k\n": `: cluster "we ird/../c lé": a cluster name may hold only lower-case letters`,
		"Prod: t0k\n":             `: cluster "Prod": a cluster name may hold only lower-case letters`,
		"dev: ''\n":               `: cluster "dev" has an empty token`,
	} {
		if err := os.WriteFile(bad, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errOut := herald(t, "cluster", "add", "prod", "--cluster-tokens", bad)
		if code != 1 || !strings.Contains(errOut, bad+want) {
			t.Errorf("tokens file %q: exit %d, %q; want exit 1 saying %q", content, code, errOut, bad+want)
		}
		if data, _ := os.ReadFile(bad); string(data) != content {
			t.Errorf("tokens file %q was rewritten: %q", content, data)
		}
	}
}

// readClusterTokens refuses what cannot be a cluster, so that no name
// outside a DNS label reaches event metadata, and no empty token
// authenticates anyone.
func TestReadClusterTokensValidates(t *testing.T) {
	for content, want := range map[string]string{
		"'we ird/../c lé': t\n": "may hold only lower-case letters",
		"prod: ''\n":            `cluster "prod" has an empty token`,
	} {
		file := filepath.Join(t.TempDir(), "tokens.yaml")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readClusterTokens(file); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readClusterTokens(%q) = %v, want an error saying %q", content, err, want)
		}
	}
}

func TestClusterAddAWS(t *testing.T) {
	sm := awstest.NewSecretsManager(t)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "herald")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "herald")
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", sm.URL)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("HERALD_CLUSTER_TOKENS", "")

	code, out, errOut := herald(t, "cluster", "add", "prod-eu")
	if code != 0 {
		t.Fatalf("cluster add: exit %d\n%s", code, errOut)
	}
	token := parseSecret(t, out).StringData["token"]
	stored, ok := sm.Value("herald/clusters/prod-eu")
	var data map[string]string
	if !ok || json.Unmarshal([]byte(stored), &data) != nil || data["token"] != token || len(data) != 1 {
		t.Fatalf("Secrets Manager holds %q, want the printed token", stored)
	}
	if !strings.Contains(errOut, "Secrets Manager herald/clusters/prod-eu") || strings.Contains(errOut, token) {
		t.Fatalf("stderr %q", errOut)
	}

	code, _, errOut = herald(t, "cluster", "add", "prod-eu")
	if code != 1 || !strings.Contains(errOut, "has a token already; pass --rotate") {
		t.Fatalf("second add: exit %d, %q", code, errOut)
	}
	if after, _ := sm.Value("herald/clusters/prod-eu"); after != stored {
		t.Fatal("a refused add changed the secret")
	}
}
