package receiver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/pkg/api"
	"github.com/heraldhq/herald/pkg/receiver/receivertest"
)

// FuzzBearerHeader feeds any Authorization header to both token types:
// never a panic, always a 400 that does not quote the header's token.
func FuzzBearerHeader(f *testing.F) {
	iss := receivertest.NewIssuer(f)
	good := ciClaims(iss, DefaultOIDCAudience)
	valid := iss.Sign(f, good)
	f.Add("Bearer "+valid, false)
	f.Add("Bearer "+valid, true)
	f.Add("Bearer "+valid[:len(valid)-4], false)
	f.Add("Bearer a.b.c", true)
	f.Add("Bearer e30.e30.e30", false)
	f.Add("Bearer eyJhbGciOiJub25lIn0."+base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"`+iss.URL+`"}`))+".", false)
	f.Add("Basic x", false)
	f.Add("Bearer ", true)
	v := &Verifier{GoogleJWKSURL: iss.JWKSURL()}
	rcv := oidcReceiver(ciProvider(iss.URL, ""))
	f.Fuzz(func(t *testing.T, header string, gcr bool) {
		r, secret := rcv, map[string][]byte(nil)
		if gcr {
			r, secret = receiverOf("gcr"), gcrSecret()
		}
		res, err := v.Verify(context.Background(), r, secret, &Request{Header: http.Header{"Authorization": {header}}, Body: pushEnvelope(t, gcrEventJSON)})
		if err == nil {
			// Only what the issuer signed can pass, and the fuzzer cannot
			// sign: the valid token, give or take spaces and base64 bits
			// that decode to the same bytes.
			if gcr || res.Claims["sub"] != good["sub"] || res.Claims["exp"] != float64(good["exp"].(int64)) {
				t.Fatalf("Verify() accepted %q: %v", header, res.Claims)
			}
			return
		}
		token := strings.TrimSpace(strings.TrimPrefix(header, "Bearer "))
		checkNoQuote(t, err, token)
	})
}

// FuzzGenericOIDCSignedClaims signs whatever payload the fuzzer makes with
// the issuer's key, so that go-oidc's claim parsing and the CEL rules see
// any claims behind a valid signature. A JSON object gets the issuer's iss
// so it reaches its provider. Accepted means the rules held.
func FuzzGenericOIDCSignedClaims(f *testing.F) {
	iss := receivertest.NewIssuer(f)
	seed := func(claims map[string]any) {
		b, _ := json.Marshal(claims)
		f.Add(b)
	}
	good := ciClaims(iss, DefaultOIDCAudience)
	seed(good)
	seed(with(good, "aud", []any{"x", DefaultOIDCAudience}))
	seed(with(good, "exp", "tomorrow"))
	seed(with(good, "repository", 7))
	seed(with(good, "ref", nil))
	seed(with(good, "nbf", time.Now().Add(time.Hour).Unix()))
	seed(with(good, "_claim_names", map[string]any{"x": "src"}))
	f.Add([]byte("null"))
	f.Add([]byte("[1]"))
	f.Add([]byte("\xff"))
	v := new(Verifier)
	rcv := oidcReceiver(ciProvider(iss.URL, ""))
	key := iss.Key()
	f.Fuzz(func(t *testing.T, payload []byte) {
		var claims map[string]any
		if json.Unmarshal(payload, &claims) == nil && claims != nil {
			claims["iss"] = iss.URL
			payload, _ = json.Marshal(claims)
		}
		token := key.SignPayload(t, payload)
		res, err := v.Verify(context.Background(), rcv, nil, &Request{Header: bearer(token)})
		if err != nil {
			checkNoQuote(t, err, token)
			return
		}
		if res.Claims["repository"] != "org/app" || res.Claims["ref"] != "refs/heads/main" || res.Claims["iss"] != iss.URL {
			t.Fatalf("accepted claims %v that fail the validations", res.Claims)
		}
	})
}

// FuzzGCREnvelope sends any body with a valid Google token: a 400, or the
// inner event re-encoded with its three fields.
func FuzzGCREnvelope(f *testing.F) {
	google := receivertest.NewIssuer(f)
	token := google.Sign(f, receivertest.GoogleClaims("https://accounts.google.com", gcrEmail, gcrAudience))
	f.Add(pushEnvelope(f, gcrEventJSON))
	f.Add(pushEnvelope(f, `{"action":1}`))
	f.Add(envelopeWithData(f, "e30"))
	f.Add([]byte(`{"message":{"data":"e30="}} trailing`))
	f.Add([]byte(`{"message":{"publishTime":"2026-13-01T00:00:00Z"}}`))
	f.Add([]byte(`{"message":null}`))
	v := &Verifier{GoogleJWKSURL: google.JWKSURL()}
	rcv := receiverOf("gcr")
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := v.Verify(context.Background(), rcv, gcrSecret(), &Request{Header: bearer(token), Body: body})
		if err != nil {
			checkNoQuote(t, err, token)
			if !strings.Contains(err.Error(), "cannot decode GCR webhook") {
				t.Fatalf("a valid token was refused for its body: %v", err)
			}
			return
		}
		var event map[string]any
		if json.Unmarshal(res.Body, &event) != nil || len(event) != 3 {
			t.Fatalf("Result.Body = %s, want the three fields of the event", res.Body)
		}
	})
}

// FuzzClaimsRules compiles any expression as a validation and evaluates it
// over any claims: errors, never panics, and only a true result passes.
func FuzzClaimsRules(f *testing.F) {
	f.Add("claims.sub == 'x'", []byte(`{"sub":"x"}`))
	f.Add("vars.v.startsWith('repo:')", []byte(`{"sub":"repo:a"}`))
	f.Add("claims.groups.exists(g, g == 'ops')", []byte(`{"groups":["ops",1,null]}`))
	f.Add("claims.n > 1 && claims.n < 2.5", []byte(`{"n":2}`))
	f.Add("claims.?a.b.orValue(0) == 0", []byte(`{"a":{"b":[]}}`))
	f.Add("sets.contains(claims.l, [1])", []byte(`{"l":[1.0]}`))
	f.Add("base64.decode(claims.s) == b'x'", []byte(`{"s":"eA=="}`))
	f.Fuzz(func(t *testing.T, expr string, claimsJSON []byte) {
		p := &api.OIDCProvider{
			Variables:   []api.OIDCVariable{{Name: "v", Expression: "claims.sub"}},
			Validations: []api.OIDCValidates{{Expression: expr, Message: "fuzz"}},
		}
		rules, err := compileClaimRules(p)
		if checked := CheckOIDC(&api.ReceiverSpec{OIDCProviders: []api.OIDCProvider{*p}}); (err != nil) != (len(checked) > 0) && expr != "" {
			t.Fatalf("compile says %v, CheckOIDC says %v", err, checked)
		}
		if err != nil {
			return
		}
		var claims map[string]any
		if json.Unmarshal(claimsJSON, &claims) != nil || claims == nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := rules.evaluate(ctx, claims); err == nil {
			// Passing means every validation was true: check by hand.
			prog, _ := compileClaimsExpr(expr, true)
			vars := map[string]any{}
			if sub, ok := claims["sub"]; ok {
				vars["v"] = sub
			}
			val, _, evalErr := prog.ContextEval(ctx, map[string]any{"claims": claims, "vars": vars})
			if evalErr == nil && val.Value() != true {
				t.Fatalf("%q passed with %v", expr, val)
			}
		}
	})
}

// checkNoQuote fails if err quotes the token or a long part of it.
func checkNoQuote(t *testing.T, err error, token string) {
	t.Helper()
	for part := range strings.SplitSeq(token, ".") {
		if len(part) >= 16 && strings.Contains(err.Error(), part) {
			t.Fatalf("the error quotes the token: %v", err)
		}
	}
}
