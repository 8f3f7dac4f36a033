package secrets_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/heraldhq/herald/pkg/secrets"
)

// memorySM is Secrets Manager in memory: no network, one value per id.
type memorySM struct{ values map[string]string }

func (s *memorySM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	v, ok := s.values[*in.SecretId]
	if !ok {
		return nil, &types.ResourceNotFoundException{}
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: &v}, nil
}

func (s *memorySM) CreateSecret(_ context.Context, in *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	s.values[*in.Name] = *in.SecretString
	return &secretsmanager.CreateSecretOutput{}, nil
}

func (s *memorySM) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	s.values[*in.SecretId] = *in.SecretString
	return &secretsmanager.PutSecretValueOutput{}, nil
}

// fuzzValue is a secret value seeded into every fuzzed SecretString: no
// error may quote any 4 bytes of it.
const fuzzValue = "Zx7Qv9Wk3Jp2"

func quotesValue(text string) bool {
	for i := 0; i+4 <= len(fuzzValue); i++ {
		if strings.Contains(text, fuzzValue[i:i+4]) {
			return true
		}
	}
	return false
}

// FuzzSecretString reads a Flux Secret and a cluster token whose
// SecretString is pre + a secret value + post. Errors never quote it; what
// reads is the SecretString's JSON object; and the data written back by
// Put reads back the same.
func FuzzSecretString(f *testing.F) {
	f.Add(`{"address":"https://hooks.example.com/services/T0/B0/`, `","headers":"X-A: b\n"}`)
	f.Add(`{"token":"`, `"}`)
	f.Add(`{"token":"`, `","token":""}`)
	f.Add(`{"token":`, `}`)
	f.Add(`["`, `"]`)
	f.Add(`"`, `"`)
	f.Add(`{"a":"`, `\u00ff\ud800"}`)
	f.Add(``, ``)
	f.Add(`null //`, ``)
	f.Fuzz(func(t *testing.T, pre, post string) {
		if quotesValue(pre + post) {
			return
		}
		raw := pre + fuzzValue + post
		sm := &memorySM{values: map[string]string{"herald/flux-system/hook": raw, "herald/clusters/prod": raw}}
		m := secrets.New(sm, secrets.Options{})

		var want map[string]string
		decodes := json.Unmarshal([]byte(raw), &want) == nil && want != nil
		data, err := m.Lookup("flux-system", "hook")
		if err != nil {
			if decodes || quotesValue(err.Error()) {
				t.Fatalf("Lookup of %q: %v", raw, err)
			}
		} else {
			if !decodes || len(data) != len(want) {
				t.Fatalf("Lookup of %q = %q", raw, data)
			}
			for k, v := range want {
				if string(data[k]) != v {
					t.Fatalf("Lookup of %q: key %q = %q, want %q", raw, k, data[k], v)
				}
			}
		}

		token, ok, err := m.ClusterToken(context.Background(), "prod")
		switch {
		case err != nil:
			if quotesValue(err.Error()) || decodes && want["token"] != "" {
				t.Fatalf("ClusterToken of %q: %v", raw, err)
			}
		case ok != (decodes && want["token"] != "") || ok && string(token) != want["token"]:
			t.Fatalf("ClusterToken of %q = %q, %v", raw, token, ok)
		}

		if !decodes {
			return
		}
		// What Put writes reads back as the same data.
		out := &memorySM{values: map[string]string{}}
		if change, err := secrets.New(out, secrets.Options{}).Put(context.Background(), "flux-system", "hook", data); err != nil || change != secrets.Created {
			t.Fatalf("Put = %q, %v", change, err)
		}
		back, err := secrets.New(out, secrets.Options{}).Lookup("flux-system", "hook")
		if err != nil || !maps.EqualFunc(back, data, func(a, b []byte) bool { return string(a) == string(b) }) {
			t.Fatalf("Put %q, read back %q, %v", data, back, err)
		}
	})
}
