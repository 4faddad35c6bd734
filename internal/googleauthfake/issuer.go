package googleauthfake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// signingKey is the issuer's RS256 key and its key id.
type signingKey struct {
	private *rsa.PrivateKey
	kid     string
}

// processKeyOnce makes one 2048-bit key per process: generating one costs
// tens of milliseconds, and the fakes of a test binary may share it.
var processKeyOnce = sync.OnceValues(func() (*signingKey, error) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("googleauthfake: generate the issuer's key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("googleauthfake: %w", err)
	}
	sum := sha256.Sum256(der)
	return &signingKey{private: k, kid: hex.EncodeToString(sum[:20])}, nil
})

func processKey() (*signingKey, error) { return processKeyOnce() }

// Mint signs claims as an RS256 JWT of the issuer, with its key id in the
// header: tests use it for tokens IAM Credentials would not issue (expired,
// another audience, another email).
func (g *Google) Mint(claims map[string]any) string {
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": g.keys.kid, "typ": "JWT"})
	payload, err := json.Marshal(claims)
	if err != nil {
		panic(fmt.Sprintf("googleauthfake: claims are not JSON: %v", err))
	}
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, g.keys.private, crypto.SHA256, digest[:])
	if err != nil {
		panic(fmt.Sprintf("googleauthfake: sign: %v", err))
	}
	token := signingInput + "." + base64.RawURLEncoding.EncodeToString(sig)
	g.remember(token)
	return token
}

// Claims returns the claims of a valid ID token for the service account
// and aud, as IAM Credentials issues them now: tests change some.
func (g *Google) Claims(aud string) map[string]any {
	now := g.cfg.Now()
	return map[string]any{
		"aud": aud, "azp": uniqueID(g.cfg.ServiceAccount), "sub": uniqueID(g.cfg.ServiceAccount),
		"email": g.cfg.ServiceAccount, "email_verified": true,
		"iat": now.Unix(), "exp": now.Add(g.cfg.Lifetime).Unix(), "iss": Issuer,
	}
}

// serveJWKS publishes the issuer's public key as Google publishes its keys.
func (g *Google) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	pub := g.keys.private.PublicKey
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"alg": "RS256",
		"kid": g.keys.kid,
		"kty": "RSA",
		"use": "sig",
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
}

// idClaims are the claims the front reads.
type idClaims struct {
	Iss           string `json:"iss"`
	Aud           string `json:"aud"`
	Exp           int64  `json:"exp"`
	Iat           int64  `json:"iat"`
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
}

// verify checks an ID token's signature with the issuer's key, its header
// and its iss, and returns its claims; the caller checks the rest.
func (g *Google) verify(token string, now time.Time) (idClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return idClaims{}, errors.New("not a JWT")
	}
	var header struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return idClaims{}, fmt.Errorf("header: %w", err)
	}
	if header.Alg != "RS256" || header.Kid != g.keys.kid {
		return idClaims{}, fmt.Errorf("signed with alg %q and key %q, not the issuer's RS256 key", header.Alg, header.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return idClaims{}, errors.New("signature is not base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&g.keys.private.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		return idClaims{}, errors.New("bad signature")
	}
	var c idClaims
	if err := decodeSegment(parts[1], &c); err != nil {
		return idClaims{}, fmt.Errorf("payload: %w", err)
	}
	if c.Iss != Issuer && c.Iss != strings.TrimPrefix(Issuer, "https://") {
		return idClaims{}, fmt.Errorf("issuer %q is not Google's", c.Iss)
	}
	if !now.Before(time.Unix(c.Exp, 0)) {
		return idClaims{}, fmt.Errorf("expired at %s", time.Unix(c.Exp, 0).UTC().Format(time.RFC3339))
	}
	return c, nil
}

// decodeSegment decodes a base64url JSON segment of a JWT into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return errors.New("not base64url")
	}
	return json.Unmarshal(b, v)
}
