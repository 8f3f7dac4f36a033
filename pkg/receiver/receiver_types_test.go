package receiver

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver/cdevents"
)

// typesToken is the Receivers' token in these tests; no error may quote it.
const typesToken = "types-s3cr3t-4b1d"

// webhookVerifier is a Verifier as the binaries that serve webhooks make it.
func webhookVerifier() *Verifier { return &Verifier{CDEvents: cdevents.Validate} }

// sample reads a sender's documented example payload from testdata.
func sample(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// typeCase is one call to one receiver type and what it earns: accepted
// (status 0) with the body the filters see, or a refusal with its status
// and exact message.
type typeCase struct {
	name   string
	rcv    *api.Receiver
	header http.Header
	body   string
	status int
	msg    string // the whole error message of a refusal
	// filterBody is Result.Body of an accepted call; empty means the body.
	filterBody string
}

func runTypeCases(t *testing.T, tests []typeCase) {
	t.Helper()
	secret := map[string][]byte{"token": []byte(typesToken)}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			header := tc.header
			if header == nil {
				header = http.Header{}
			}
			res, err := webhookVerifier().Verify(context.Background(), tc.rcv, secret, &Request{Header: header, Body: []byte(tc.body)})
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("Verify() = %v, want accepted", err)
				}
				want := tc.filterBody
				if want == "" {
					want = tc.body
				}
				if string(res.Body) != want {
					t.Fatalf("Result.Body = %q, want %q", res.Body, want)
				}
				if res.Claims != nil {
					t.Fatalf("Result.Claims = %v, want nil", res.Claims)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status || e.Error() != tc.msg {
				t.Fatalf("Verify() = %v, want status %d with %q", err, tc.status, tc.msg)
			}
			if strings.Contains(err.Error(), typesToken) {
				t.Fatalf("the error leaks the token: %v", err)
			}
		})
	}
}

func TestVerifyBitbucket(t *testing.T) {
	push := sample(t, "bitbucket-repo-push.json")
	form := "payload=" + url.QueryEscape(push)
	// Bitbucket Cloud signs with SHA-256 into X-Hub-Signature; Bitbucket
	// Server (Data Center) does the same.
	signed := func(event, contentType, body, key string) http.Header {
		return http.Header{"Content-Type": {contentType}, "X-Event-Key": {event}, "X-Hub-Signature": {"sha256=" + hmacHex(sha256New, key, body)}}
	}
	sha256Header := http.Header{"Content-Type": {"application/json"}, "X-Event-Key": {"repo:push"}, "X-Hub-Signature-256": {"sha256=" + hmacHex(sha256New, typesToken, push)}}
	runTypeCases(t, []typeCase{
		{name: "repo:push", rcv: receiverOf("bitbucket", "repo:push"), header: signed("repo:push", "application/json", push, typesToken), body: push},
		{name: "event matched without case", rcv: receiverOf("bitbucket", "REPO:PUSH"), header: signed("repo:push", "application/json", push, typesToken), body: push},
		{name: "no events allow all", rcv: receiverOf("bitbucket"), header: signed("repo:commit_status_updated", "application/json", push, typesToken), body: push},
		{name: "X-Hub-Signature-256", rcv: receiverOf("bitbucket", "repo:push"), header: sha256Header, body: push},
		{name: "sha1 signature", rcv: receiverOf("bitbucket"), body: push, header: http.Header{
			"Content-Type": {"application/json"}, "X-Event-Key": {"repo:push"}, "X-Hub-Signature": {"sha1=" + hmacHex(sha1New, typesToken, push)}}},
		{name: "charset in Content-Type", rcv: receiverOf("bitbucket"), header: signed("repo:push", "application/json; charset=utf-8", push, typesToken), body: push},
		{name: "form payload is what filters see", rcv: receiverOf("bitbucket"), header: signed("repo:push", "application/x-www-form-urlencoded", form, typesToken), body: form, filterBody: push},
		{name: "wrong signature", rcv: receiverOf("bitbucket"), header: signed("repo:push", "application/json", push, "guess"), body: push,
			status: 400, msg: "the Bitbucket server signature header is invalid, err: payload signature check failed"},
		{name: "signature of another body", rcv: receiverOf("bitbucket"), header: signed("repo:push", "application/json", push, typesToken), body: push + " ",
			status: 400, msg: "the Bitbucket server signature header is invalid, err: payload signature check failed"},
		{name: "missing signature", rcv: receiverOf("bitbucket"), header: http.Header{"Content-Type": {"application/json"}, "X-Event-Key": {"repo:push"}}, body: push,
			status: 400, msg: "the Bitbucket server signature header is invalid, err: missing signature"},
		{name: "unknown algorithm", rcv: receiverOf("bitbucket"), header: http.Header{"Content-Type": {"application/json"}, "X-Event-Key": {"repo:push"}, "X-Hub-Signature": {"md5=00"}}, body: push,
			status: 400, msg: `the Bitbucket server signature header is invalid, err: unknown hash type prefix: "md5"`},
		{name: "unsupported Content-Type", rcv: receiverOf("bitbucket"), header: signed("repo:push", "text/plain", push, typesToken), body: push,
			status: 400, msg: `the Bitbucket server signature header is invalid, err: webhook request has unsupported Content-Type "text/plain"`},
		{name: "event not in spec.events", rcv: receiverOf("bitbucket", "pullrequest:fulfilled"), header: signed("repo:push", "application/json", push, typesToken), body: push,
			status: 400, msg: `the Bitbucket server event "repo:push" is not authorised`},
		{name: "missing X-Event-Key", rcv: receiverOf("bitbucket", "repo:push"), header: http.Header{"Content-Type": {"application/json"}, "X-Hub-Signature": {"sha256=" + hmacHex(sha256New, typesToken, push)}}, body: push,
			status: 400, msg: `the Bitbucket server event "" is not authorised`},
	})
}

func TestVerifyHarbor(t *testing.T) {
	push := sample(t, "harbor-push-artifact.json")
	runTypeCases(t, []typeCase{
		{name: "PUSH_ARTIFACT", rcv: receiverOf("harbor"), header: http.Header{"Authorization": {typesToken}, "Content-Type": {"application/json"}}, body: push},
		{name: "spec.events is not consulted", rcv: receiverOf("harbor", "DELETE_ARTIFACT"), header: http.Header{"Authorization": {typesToken}}, body: push},
		{name: "wrong token", rcv: receiverOf("harbor"), header: http.Header{"Authorization": {"guess"}}, body: push,
			status: 400, msg: "the Harbor Authorization header value does not match the receiver token"},
		{name: "token with a scheme", rcv: receiverOf("harbor"), header: http.Header{"Authorization": {"Bearer " + typesToken}}, body: push,
			status: 400, msg: "the Harbor Authorization header value does not match the receiver token"},
		{name: "missing Authorization", rcv: receiverOf("harbor"), body: push,
			status: 400, msg: "the Harbor Authorization header value does not match the receiver token"},
	})
}

func TestVerifyDockerHub(t *testing.T) {
	push := sample(t, "dockerhub-push.json")
	runTypeCases(t, []typeCase{
		{name: "push", rcv: receiverOf("dockerhub"), header: http.Header{"Content-Type": {"application/json"}}, body: push},
		{name: "no field is required", rcv: receiverOf("dockerhub"), body: `{}`},
		{name: "only the first JSON value is read, as in Flux", rcv: receiverOf("dockerhub"), body: push + "trailing"},
		{name: "malformed body", rcv: receiverOf("dockerhub"), body: `{"push_data":`, status: 400, msg: "cannot decode DockerHub webhook payload"},
		{name: "empty body", rcv: receiverOf("dockerhub"), body: "", status: 400, msg: "cannot decode DockerHub webhook payload"},
		{name: "tag is not a string", rcv: receiverOf("dockerhub"), body: `{"push_data":{"tag":1}}`, status: 400, msg: "cannot decode DockerHub webhook payload"},
		{name: "not an object", rcv: receiverOf("dockerhub"), body: `["latest"]`, status: 400, msg: "cannot decode DockerHub webhook payload"},
	})
}

func TestVerifyQuay(t *testing.T) {
	push := sample(t, "quay-repository-push.json")
	runTypeCases(t, []typeCase{
		{name: "repository push", rcv: receiverOf("quay"), header: http.Header{"Content-Type": {"application/json"}}, body: push},
		{name: "no field is required", rcv: receiverOf("quay"), body: `{"name":"repository"}`},
		{name: "malformed body", rcv: receiverOf("quay"), body: `{"docker_url":"quay.io/x"`,
			status: 400, msg: "cannot decode Quay webhook payload: unexpected EOF"},
		{name: "updated_tags is not a list", rcv: receiverOf("quay"), body: `{"updated_tags":"latest"}`,
			status: 400, msg: "cannot decode Quay webhook payload: json: cannot unmarshal string into Go struct field payload.updated_tags of type []string"},
		{name: "empty body", rcv: receiverOf("quay"), body: "", status: 400, msg: "cannot decode Quay webhook payload: EOF"},
	})
}

func TestVerifyACR(t *testing.T) {
	push := sample(t, "acr-push.json")
	runTypeCases(t, []typeCase{
		{name: "push", rcv: receiverOf("acr"), header: http.Header{"Content-Type": {"application/json"}}, body: push},
		{name: "no field is required", rcv: receiverOf("acr"), body: `{"action":"delete"}`},
		{name: "malformed body", rcv: receiverOf("acr"), body: `{"action":push}`,
			status: 400, msg: "cannot decode ACR webhook payload: invalid character 'p' looking for beginning of value"},
		{name: "tag is not a string", rcv: receiverOf("acr"), body: `{"action":"push","target":{"repository":"hello-world","tag":1}}`,
			status: 400, msg: "cannot decode ACR webhook payload: json: cannot unmarshal number into Go struct field target.target.tag of type string"},
	})
}

func TestVerifyNexus(t *testing.T) {
	created := sample(t, "nexus-component-created.json")
	sig := hmacHex(sha1New, typesToken, created)
	nexus := func(sig string) http.Header {
		return http.Header{"Content-Type": {"application/json; charset=UTF-8"}, "X-Nexus-Webhook-Signature": {sig}, "X-Nexus-Webhook-Id": {"rm:repository:component"}}
	}
	const garbled = `{"action":"CREATED","repositoryName":`
	runTypeCases(t, []typeCase{
		{name: "component created", rcv: receiverOf("nexus"), header: nexus(sig), body: created},
		{name: "spec.events is not consulted", rcv: receiverOf("nexus", "rm:repository:asset"), header: nexus(sig), body: created},
		{name: "missing signature", rcv: receiverOf("nexus"), header: http.Header{"Content-Type": {"application/json"}}, body: created,
			status: 400, msg: "the Nexus signature is missing from header"},
		{name: "wrong key", rcv: receiverOf("nexus"), header: nexus(hmacHex(sha1New, "guess", created)), body: created,
			status: 400, msg: "invalid Nexus signature"},
		{name: "signature of another body", rcv: receiverOf("nexus"), header: nexus(sig), body: created + "\n",
			status: 400, msg: "invalid Nexus signature"},
		{name: "uppercase hex", rcv: receiverOf("nexus"), header: nexus(strings.ToUpper(sig)), body: created,
			status: 400, msg: "invalid Nexus signature"},
		{name: "SHA-256 is not Nexus' algorithm", rcv: receiverOf("nexus"), header: nexus(hmacHex(sha256New, typesToken, created)), body: created,
			status: 400, msg: "invalid Nexus signature"},
		{name: "signed malformed body", rcv: receiverOf("nexus"), header: nexus(hmacHex(sha1New, typesToken, garbled)), body: garbled,
			status: 400, msg: "cannot decode Nexus webhook payload: unexpected end of JSON input"},
		{name: "signed body with trailing data", rcv: receiverOf("nexus"), header: nexus(hmacHex(sha1New, typesToken, created+"x")), body: created + "x",
			status: 400, msg: "cannot decode Nexus webhook payload: invalid character 'x' after top-level value"},
	})
}

// fluxChangeMerged is the event Flux's own receiver test posts: a v0.3
// context (version 0.3.0, extra fields) with a v0.4 type, which the SDK
// accepts.
const fluxChangeMerged = `{"context":{"gitRepository":"adamkenihan/notification-controller","gitRevision":"5555","version":"0.3.0","id":"5555",` +
	`"source":"github","timestamp":"2023-12-07T14:51:29.908479495Z","type":"dev.cdevents.change.merged.0.2.0"},"subject":{"type":"change","id":"5555"}}`

func TestVerifyCDEvents(t *testing.T) {
	published := sample(t, "cdevents-artifact-published.json")
	merged := sample(t, "cdevents-change-merged.json")
	ceType := func(t string) http.Header {
		return http.Header{"Content-Type": {"application/json"}, "Ce-Specversion": {"1.0"}, "Ce-Type": {t}, "Ce-Source": {"/event/source/123"}, "Ce-Id": {"271069a8"}}
	}
	// Spec v0.3's artifact.published is 0.1.1; v0.4 has 0.2.0, and the
	// v0.4 schema pins the type.
	v03 := strings.Replace(published, "artifact.published.0.2.0", "artifact.published.0.1.1", 1)
	noSubjectID := strings.Replace(merged, `"id": "mySubject123",`, "", 1)
	runTypeCases(t, []typeCase{
		{name: "artifact.published", rcv: receiverOf("cdevents", "dev.cdevents.artifact.published.0.2.0"), header: ceType("dev.cdevents.artifact.published.0.2.0"), body: published},
		{name: "change.merged, no events", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: merged},
		{name: "Ce-Type matched without case", rcv: receiverOf("cdevents", "DEV.CDEVENTS.CHANGE.MERGED.0.2.0"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: merged},
		{name: "the event Flux's test sends", rcv: receiverOf("cdevents", "cd.change.merged.v1"), header: ceType("cd.change.merged.v1"), body: fluxChangeMerged},
		{name: "Ce-Type not in spec.events", rcv: receiverOf("cdevents", "cd.environment.modified.v1"), header: ceType("cd.change.merged.v1"), body: fluxChangeMerged,
			status: 400, msg: `the CDEvent "cd.change.merged.v1" is not authorised`},
		{name: "missing Ce-Type", rcv: receiverOf("cdevents", "dev.cdevents.change.merged.0.2.0"), body: merged,
			status: 400, msg: `the CDEvent "" is not authorised`},
		{name: "malformed body", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: `{"context":`,
			status: 400, msg: "unable to validate CDEvent event: unexpected end of JSON input"},
		{name: "not a CDEvent", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: sample(t, "quay-repository-push.json"),
			status: 400, msg: "unable to validate CDEvent event: unknown event type dev.cdevents.<undefined-subject>.<undefined-predicate>.<undefined-version>"},
		{name: "unknown event type", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: strings.Replace(merged, "change.merged", "change.exploded", 1),
			status: 400, msg: "unable to validate CDEvent event: unknown event type dev.cdevents.change.exploded.0.2.0"},
		{name: "incompatible major version", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: strings.Replace(merged, "change.merged.0.2.0", "change.merged.1.0.0", 1),
			status: 400, msg: "unable to validate CDEvent event: sdk event version 0.2.0 not compatible with 1.0.0"},
		{name: "spec v0.3 type fails the v0.4 schema", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.artifact.published.0.1.1"), body: v03,
			status: 400, msg: "unable to validate CDEvent event: jsonschema validation failed with 'https://cdevents.dev/0.4.1/schema/artifact-published-event#'\n" +
				"- at '/context/type': value must be 'dev.cdevents.artifact.published.0.2.0'"},
		{name: "subject id missing", rcv: receiverOf("cdevents"), header: ceType("dev.cdevents.change.merged.0.2.0"), body: noSubjectID,
			status: 400, msg: "unable to validate CDEvent event: jsonschema validation failed with 'https://cdevents.dev/0.4.1/schema/change-merged-event#'\n" +
				"- at '/subject/id': minLength: got 0, want 1"},
	})
}

// TestVerifyCDEventsKeepsNothingBetweenCalls: the CDEvents SDK's parser,
// which Flux calls, decodes into one shared value per event type, so there
// an event missing required fields passes after a complete one of the same
// type. Herald judges every call on its own.
func TestVerifyCDEventsKeepsNothingBetweenCalls(t *testing.T) {
	merged := sample(t, "cdevents-change-merged.json")
	partial := `{"context":{"version":"0.4.1","type":"dev.cdevents.change.merged.0.2.0"},"subject":{}}`
	rcv := receiverOf("cdevents")
	secret := map[string][]byte{"token": []byte(typesToken)}
	verify := func(body string) error {
		_, err := webhookVerifier().Verify(context.Background(), rcv, secret, &Request{Header: http.Header{}, Body: []byte(body)})
		return err
	}
	for range 2 {
		if err := verify(merged); err != nil {
			t.Fatalf("complete event: %v", err)
		}
		err := verify(partial)
		if err == nil || !strings.Contains(err.Error(), "at '/context/id': minLength: got 0, want 1") {
			t.Fatalf("partial event after a complete one: %v, want refused for its missing id", err)
		}
	}
}

// TestTypesListsTheNewTypes: the seven types are listed, and a type Herald
// does not know is still answered 501.
func TestTypesListsTheNewTypes(t *testing.T) {
	types := strings.Join(Types(), ",")
	for _, typ := range []string{"acr", "bitbucket", "cdevents", "dockerhub", "harbor", "nexus", "quay"} {
		if !strings.Contains(","+types+",", ","+typ+",") {
			t.Errorf("Types() = %s, want %s in it", types, typ)
		}
	}
	_, err := new(Verifier).Verify(context.Background(), receiverOf("no-such-type"), map[string][]byte{"token": []byte(typesToken)}, &Request{Header: http.Header{}})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusNotImplemented || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("unknown type: %v, want a 501 ErrUnsupported", err)
	}
}

// TestVerifyCDEventsWithoutValidator: a Verifier without a CDEvents
// validator, as in a binary that does not serve webhooks, answers 501.
func TestVerifyCDEventsWithoutValidator(t *testing.T) {
	_, err := new(Verifier).Verify(context.Background(), receiverOf("cdevents"), map[string][]byte{"token": []byte(typesToken)},
		&Request{Header: http.Header{}, Body: []byte(sample(t, "cdevents-change-merged.json"))})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusNotImplemented || !errors.Is(err, ErrUnsupported) {
		t.Fatalf("Verify() = %v, want a 501 ErrUnsupported", err)
	}
}
