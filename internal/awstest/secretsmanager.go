package awstest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

const secretsContentType = "application/x-amz-json-1.1"

// SecretsManager is a double of the Secrets Manager API for
// GetSecretValue, CreateSecret and PutSecretValue, holding string secrets by
// name. A secret is addressed by its name or by the ARN it was given.
type SecretsManager struct {
	// URL is the endpoint, for BaseEndpoint.
	URL string

	// BeforeAnswer, when set, is called with each request's operation and
	// secret id once it is recorded and before it is served, outside any
	// lock: tests use it to hold answers back.
	BeforeAnswer func(op, secretID string)
	// FailWith, when set, is called with each recorded request; a non-zero
	// status makes the double answer with that status and error code
	// instead, as Secrets Manager does when it throttles or fails.
	FailWith func(op, secretID string) (status int, code string)

	mu      sync.Mutex
	calls   []SecretsCall
	secrets map[string]*smSecret // by name
	seq     int
}

// SecretsCall is one recorded request. It never holds the secret value.
type SecretsCall struct {
	Op string
	// SecretID is the SecretId, or the Name of CreateSecret.
	SecretID string
}

type smSecret struct {
	name, arn, value string
	version          int
	created          time.Time
}

// NewSecretsManager starts a Secrets Manager double for the test.
func NewSecretsManager(tb testing.TB) *SecretsManager {
	tb.Helper()
	s := &SecretsManager{secrets: map[string]*smSecret{}}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Client returns a real SDK client for the double: static credentials,
// region us-east-1.
func (s *SecretsManager) Client(optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials,
	}, optFns...)
}

// Set creates or overwrites the secret name with value, without recording a
// call.
func (s *SecretsManager) Set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.put(name, value)
}

// Value returns the current SecretString of name.
func (s *SecretsManager) Value(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		return sec.value, true
	}
	return "", false
}

// Calls returns the requests recorded so far, in order.
func (s *SecretsManager) Calls() []SecretsCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Count returns how many requests of op were recorded.
func (s *SecretsManager) Count(op string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Op == op {
			n++
		}
	}
	return n
}

// Reset forgets the recorded requests.
func (s *SecretsManager) Reset() {
	s.mu.Lock()
	s.calls = nil
	s.mu.Unlock()
}

type smRequest struct {
	SecretId           string  `json:"SecretId"`
	Name               string  `json:"Name"`
	SecretString       *string `json:"SecretString"`
	SecretBinary       []byte  `json:"SecretBinary"`
	ClientRequestToken string  `json:"ClientRequestToken"`
}

func (s *SecretsManager) serve(w http.ResponseWriter, r *http.Request) {
	var in smRequest
	op, e := readRequest(r, "secretsmanager.", secretsContentType, &in)
	if e == nil {
		id := in.SecretId
		if op == "CreateSecret" {
			id = in.Name
		}
		s.mu.Lock()
		s.calls = append(s.calls, SecretsCall{Op: op, SecretID: id})
		s.mu.Unlock()
		if s.BeforeAnswer != nil {
			s.BeforeAnswer(op, id)
		}
		var out any
		if s.FailWith != nil {
			if status, code := s.FailWith(op, id); status != 0 {
				e = &apiError{status: status, typ: code, message: "awstest: " + code}
			}
		}
		if e == nil {
			out, e = s.do(op, &in)
		}
		if e == nil {
			writeJSON(w, secretsContentType, out)
			return
		}
	}
	writeError(w, secretsContentType, e)
}

var errSecretNotFound = &apiError{status: 400, typ: "ResourceNotFoundException", message: "Secrets Manager can't find the specified secret."}

func (s *SecretsManager) do(op string, in *smRequest) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch op {
	case "GetSecretValue":
		sec := s.find(in.SecretId)
		if sec == nil {
			return nil, errSecretNotFound
		}
		return map[string]any{
			"ARN": sec.arn, "Name": sec.name, "VersionId": versionID(sec.version), "SecretString": sec.value,
			"VersionStages": []string{"AWSCURRENT"}, "CreatedDate": float64(sec.created.UnixMilli()) / 1000,
		}, nil

	case "CreateSecret":
		if in.Name == "" {
			return nil, &apiError{status: 400, typ: "InvalidParameterException", message: "You must provide a value for the Name parameter."}
		}
		if in.SecretString == nil {
			return nil, &apiError{status: 400, typ: "InvalidRequestException", message: "awstest holds string secrets only: SecretString is required."}
		}
		if s.secrets[in.Name] != nil {
			return nil, &apiError{status: 400, typ: "ResourceExistsException",
				message: fmt.Sprintf("The operation failed because the secret %s already exists.", in.Name)}
		}
		sec := s.put(in.Name, *in.SecretString)
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": versionID(sec.version)}, nil

	case "PutSecretValue":
		sec := s.find(in.SecretId)
		if sec == nil {
			return nil, errSecretNotFound
		}
		if in.SecretString == nil {
			return nil, &apiError{status: 400, typ: "InvalidRequestException", message: "awstest holds string secrets only: SecretString is required."}
		}
		sec = s.put(sec.name, *in.SecretString)
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": versionID(sec.version), "VersionStages": []string{"AWSCURRENT"}}, nil
	}
	return nil, &apiError{status: 400, typ: "UnknownOperationException", message: "awstest does not serve secretsmanager." + op}
}

func (s *SecretsManager) find(id string) *smSecret {
	if sec := s.secrets[id]; sec != nil {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

func (s *SecretsManager) put(name, value string) *smSecret {
	sec := s.secrets[name]
	if sec == nil {
		s.seq++
		sec = &smSecret{
			name:    name,
			arn:     fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%06d", Region, AccountID, name, s.seq),
			created: time.Now(),
		}
		s.secrets[name] = sec
	}
	sec.value = value
	sec.version++
	return sec
}

func versionID(v int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", v) }
