package lambdatest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/lambdatest"
	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver"
	"github.com/heraldhq/herald/pkg/receiver/receivertest"
)

const (
	gcrToken    = "gcr-webhook-token-0b7d5e29a1c4"
	gcrEmail    = "gcr-push@my-project.iam.gserviceaccount.com"
	gcrAudience = "https://k2x7q9w3ab.execute-api.us-east-1.amazonaws.com/hook"
)

// testReceiverOIDC runs gcr and generic-oidc calls through the receiver
// binary as API Gateway delivers them, against a local issuer that also
// stands in for Google's key set (HERALD_GOOGLE_JWKS_URL).
func testReceiverOIDC(t *testing.T, b *lambdatest.Builder) {
	st := newStack(t)
	iss := receivertest.NewIssuer(t)
	resources := []api.ReceiverResource{{CrossNamespaceObjectReference: api.CrossNamespaceObjectReference{Kind: "OCIRepository", Name: "podinfo"}}}
	meta := func(name string) api.ObjectMeta {
		return api.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{api.ClusterLabel: cluster}}
	}
	typeMeta := api.TypeMeta{APIVersion: api.NotificationGroup + "/v1", Kind: api.KindReceiver}
	gcr := api.Receiver{TypeMeta: typeMeta, Metadata: meta("gcr"), Spec: api.ReceiverSpec{
		Type: "gcr", SecretRef: &api.LocalObjectReference{Name: "gcr-token"}, Resources: resources,
	}}
	ci := api.Receiver{TypeMeta: typeMeta, Metadata: meta("ci"), Spec: api.ReceiverSpec{
		Type: "generic-oidc", Resources: resources,
		OIDCProviders: []api.OIDCProvider{{
			IssuerURL: iss.URL,
			Variables: []api.OIDCVariable{{Name: "repo", Expression: "claims.repository"}},
			Validations: []api.OIDCValidates{
				{Expression: "vars.repo == 'org/podinfo'", Message: "wrong repository"},
				{Expression: "claims.ref == 'refs/heads/main'", Message: "not the main branch"},
			},
		}},
	}}
	gcrDigest := receiver.Digest([]byte(gcrToken), "gcr", ns)
	ciDigest := receiver.Digest(nil, "ci", ns) // §5.1: no secret, an empty token
	for rcv, digest := range map[*api.Receiver]string{&gcr: gcrDigest, &ci: ciDigest} {
		if _, err := st.store.PutReceiver(context.Background(), *rcv, digest); err != nil {
			t.Fatal(err)
		}
	}
	st.sm.Set("herald/"+ns+"/gcr-token", `{"token":"`+gcrToken+`","email":"`+gcrEmail+`","audience":"`+gcrAudience+`"}`)
	f := lambdatest.Start(t, b.MustBuild(t, receiverPkg, lambdatest.Host()), append(st.env(false), receiver.GoogleJWKSURLEnv+"="+iss.JWKSURL()))

	google := receivertest.GoogleClaims("https://accounts.google.com", gcrEmail, gcrAudience)
	ciClaims := iss.Claims("repo:org/podinfo:ref:refs/heads/main", receiver.DefaultOIDCAudience)
	ciClaims["repository"], ciClaims["ref"] = "org/podinfo", "refs/heads/main"
	event := `{"action":"INSERT","digest":"us-east1-docker.pkg.dev/my-project/apps/podinfo@sha256:6a2c1b0b","tag":"us-east1-docker.pkg.dev/my-project/apps/podinfo:6.7.0"}`
	push := []byte(`{"message":{"attributes":{},"data":"` + base64.StdEncoding.EncodeToString([]byte(event)) +
		`","messageId":"13517203719217474","publishTime":"2026-11-22T03:00:16.218Z"},"subscription":"projects/my-project/subscriptions/herald-gcr"}`)
	var tokens []string
	sign := func(claims map[string]any, kv ...any) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		token := iss.Sign(t, c)
		tokens = append(tokens, token)
		return token
	}

	for _, tc := range []struct {
		name, digest, query, token string
		body                       []byte
		status                     int
		msg                        string
	}{
		{name: "gcr push", digest: gcrDigest, token: sign(google), body: push, status: 200},
		{name: "gcr push, issuer without scheme", digest: gcrDigest, token: sign(google, "iss", "accounts.google.com"), body: push, status: 200},
		{name: "gcr email not verified", digest: gcrDigest, token: sign(google, "email_verified", false), body: push, status: 400,
			msg: "token email '" + gcrEmail + "' is not verified"},
		{name: "gcr wrong email", digest: gcrDigest, token: sign(google, "email", "intruder@evil.example.com"), body: push, status: 400,
			msg: "token email is 'intruder@evil.example.com'"},
		{name: "gcr envelope without event", digest: gcrDigest, token: sign(google), body: []byte(`{"message":{"data":"bm90IGpzb24="}}`), status: 400,
			msg: "cannot decode GCR webhook body"},
		{name: "generic-oidc", digest: ciDigest, token: sign(ciClaims), body: []byte(`{"ref":"refs/heads/main"}`), status: 200},
		{name: "generic-oidc validations fail", digest: ciDigest, token: sign(ciClaims, "repository", "org/other", "ref", "refs/heads/dev"), status: 400,
			msg: "token validation failed: wrong repository; not the main branch"},
		{name: "generic-oidc wrong audience", digest: ciDigest, token: sign(ciClaims, "aud", "sts.amazonaws.com"), status: 400,
			msg: `oidc: expected audience "notification-controller"`},
		{name: "generic-oidc query string", digest: ciDigest, query: "ref=main", token: sign(ciClaims), status: 404},
		{name: "generic-oidc no token", digest: ciDigest, status: 400, msg: "the Authorization header is missing or malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := bearerEvent(t, tc.digest, tc.query, tc.token, tc.body)
			resp := invokeHTTP(t, f, e.json(t))
			if resp.StatusCode != tc.status {
				t.Fatalf("%d %s, want %d", resp.StatusCode, resp.Body, tc.status)
			}
			if tc.msg != "" {
				var body struct{ Error string }
				if json.Unmarshal([]byte(resp.Body), &body) != nil || !strings.Contains(body.Error, tc.msg) {
					t.Fatalf("response %s does not say %q", resp.Body, tc.msg)
				}
			}
		})
	}

	// Three calls were accepted, each one reconcile request for the cluster.
	stored := st.query(t, "reconcile#"+cluster)
	if len(stored) != 3 {
		t.Fatalf("%d reconcile items, want 3: %v", len(stored), stored)
	}
	for i, want := range []string{ns + "/gcr", ns + "/gcr", ns + "/ci"} {
		if stored[i]["receiver"] != want || stored[i]["kind"] != "OCIRepository" || stored[i]["name"] != "podinfo" {
			t.Errorf("reconcile item %d: %v, want one for %s", i, stored[i], want)
		}
	}
	out := f.Output()
	if !strings.Contains(out, "webhook refused") || !strings.Contains(out, receiver.GoogleJWKSURLEnv) {
		t.Fatalf("the function did not log the refusals and its key set override:\n%s", out)
	}
	for i, token := range tokens {
		if strings.Contains(out, token[strings.LastIndexByte(token, '.')+1:]) {
			t.Errorf("token %d shows in the function's output", i)
		}
	}
	if strings.Contains(out, gcrToken) {
		t.Error("the gcr webhook token shows in the function's output")
	}
}

// bearerEvent is an API Gateway HTTP API (payload v2) event for a hook call
// with a bearer token; API Gateway lower-cases header names.
func bearerEvent(t *testing.T, digest, query, token string, body []byte) apiEvent {
	e := httpEvent(t, "http-api-v2-github-push.json")
	e["rawPath"] = receiver.HookPrefix + digest
	e["rawQueryString"] = query
	e["pathParameters"] = map[string]any{"digest": digest}
	e["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = receiver.HookPrefix + digest
	e["requestContext"].(map[string]any)["http"].(map[string]any)["userAgent"] = "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)"
	e["headers"] = map[string]any{
		"accept":            "application/json",
		"content-type":      "application/json",
		"host":              "k2x7q9w3ab.execute-api.us-east-1.amazonaws.com",
		"user-agent":        "APIs-Google; (+https://developers.google.com/webmasters/APIs-Google.html)",
		"x-forwarded-for":   "66.102.6.98",
		"x-forwarded-port":  "443",
		"x-forwarded-proto": "https",
	}
	if token != "" {
		e.header("authorization", "Bearer "+token)
	}
	e.setBody(body)
	return e
}
