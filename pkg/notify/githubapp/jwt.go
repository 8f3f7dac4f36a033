package githubapp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"time"
)

// jwtHeader is golang-jwt's header for RS256, with its keys in its order.
const jwtHeader = `{"alg":"RS256","typ":"JWT"}`

// claims are golang-jwt's RegisteredClaims as Flux fills them, in their
// field order.
type claims struct {
	Issuer    string `json:"iss"`
	ExpiresAt int64  `json:"exp"`
	IssuedAt  int64  `json:"iat"`
}

// jwt signs the App JWT as Flux does: issued 30 seconds in the past for
// clock drift, valid for two minutes from then, in whole seconds, issued by
// the App ID (https://docs.github.com/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app).
func (s *Source) jwt(now time.Time) (string, error) {
	iat := now.Truncate(time.Second).Add(-30 * time.Second)
	payload, err := json.Marshal(claims{
		Issuer:    strconv.FormatInt(s.cfg.AppID, 10),
		ExpiresAt: iat.Add(2 * time.Minute).Unix(),
		IssuedAt:  iat.Unix(),
	})
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(jwtHeader)) + "." + enc.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signing + "." + enc.EncodeToString(sig), nil
}
