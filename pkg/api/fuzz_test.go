package api

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes through decoding and validation, which
// read untrusted files and must report problems, never panic.
func FuzzLoad(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("testdata", "tree", "*", "*"))
	more, _ := filepath.Glob(filepath.Join("testdata", "tree", "*.yaml"))
	for _, path := range append(seeds, more...) {
		if data, err := os.ReadFile(path); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte(slackProvider + "---\n" + slackSecret))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems: [{apiVersion: v1, kind: Secret, metadata: {name: s}, data: {a: YQ==}}]\n"))
	f.Add([]byte("a: &x {b: *x}\nkind: Alert\napiVersion: notification.toolkit.fluxcd.io/v1beta3\nspec: *x\n"))
	f.Add([]byte("apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata: {name: r}\n" +
		"spec: {type: generic-oidc, oidcProviders: [{issuerURL: x, validations: [{}]}], resources: [{kind: Bucket, name: '*'}]}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Decode("fuzz.yaml", data)
		if err != nil {
			_ = err.Error()
		}
		res := Validate(cfg, ValidateOptions{})
		for _, e := range append(res.Errors, res.Warnings...) {
			_ = e.Error()
		}
	})
}
