package federation_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"cloud.google.com/go/auth/credentials"
	"cloud.google.com/go/auth/credentials/externalaccount"
	"cloud.google.com/go/auth/credentials/idtoken"
	"cloud.google.com/go/auth/credentials/impersonate"
	"cloud.google.com/go/auth/httptransport"
	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
)

// loopbackOnly is an http.RoundTripper that sends requests for
// iamcredentials.googleapis.com to iamURL (Google's library builds that URL
// from the universe domain, not from the configuration) and refuses every
// other host that is not loopback, so that the test cannot reach a network.
type loopbackOnly struct{ iamURL string }

func (l loopbackOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if r.URL.Host == "iamcredentials.googleapis.com" {
		u, _ := url.Parse(l.iamURL)
		r.URL.Scheme, r.URL.Host, r.Host = u.Scheme, u.Host, ""
	}
	if ip := net.ParseIP(r.URL.Hostname()); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("loopback trap: refused a request to %s", r.URL.Host)
	}
	return http.DefaultTransport.RoundTrip(r)
}

// googleIDToken gets an ID token for testAudience with Google's own library
// from the credential configuration of g, with the proxy's credentials in
// the environment as Lambda sets them. It wires the library as
// credentials/idtoken wires it for an external account (an externalaccount
// credential without impersonation, its federated token used directly for
// generateIdToken through an httptransport client, see
// credentials/idtoken/file.go), except that the client's base transport is
// loopbackOnly: idtoken.Options.Client would have to carry the
// authentication itself.
func googleIDToken(t *testing.T, g *googleauthfake.Google) string {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", proxyIdentity.AccessKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", proxyIdentity.SecretAccessKey)
	t.Setenv("AWS_SESSION_TOKEN", proxyIdentity.SessionToken)
	t.Setenv("AWS_REGION", "us-east-1")
	cfg := g.CredentialConfig()
	loopback := &http.Client{Transport: loopbackOnly{iamURL: g.IAMURL}}

	// Google's parser takes our configuration as it is.
	if _, err := credentials.NewCredentialsFromJSON(credentials.ExternalAccount, cfg.JSON(), &credentials.DetectOptions{
		Scopes: []string{federation.ScopeCloudPlatform}, Client: loopback,
	}); err != nil {
		t.Fatalf("Google's credentials.NewCredentialsFromJSON(our credential config) = %v", err)
	}
	base, err := externalaccount.NewCredentials(&externalaccount.Options{
		Audience:         cfg.Audience,
		SubjectTokenType: cfg.SubjectTokenType,
		TokenURL:         cfg.TokenURL,
		CredentialSource: &externalaccount.CredentialSource{
			EnvironmentID:               cfg.CredentialSource.EnvironmentID,
			RegionURL:                   cfg.CredentialSource.RegionURL,
			URL:                         cfg.CredentialSource.URL,
			RegionalCredVerificationURL: cfg.CredentialSource.RegionalCredVerificationURL,
		},
		Scopes: []string{federation.ScopeCloudPlatform},
		Client: loopback,
	})
	if err != nil {
		t.Fatal(err)
	}
	authed, err := httptransport.NewClient(&httptransport.Options{Credentials: base, BaseRoundTripper: loopbackOnly{iamURL: g.IAMURL}})
	if err != nil {
		t.Fatal(err)
	}
	account, _ := cfg.ServiceAccount()
	creds, err := impersonate.NewIDTokenCredentials(&impersonate.IDTokenOptions{
		Audience: testAudience, TargetPrincipal: account, IncludeEmail: true, Credentials: base, Client: authed,
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.Token(context.Background())
	if err != nil {
		t.Fatalf("Google's library against the fakes: %v", err)
	}
	return tok.Value
}

// The fakes accept what Google's own library sends, and hand it a token the
// front accepts: the fakes are faithful to the client Google ships.
func TestGoogleLibraryAgainstTheFakes(t *testing.T) {
	g := startGoogle(t, nil)
	raw := googleIDToken(t, g)
	if g.Exchanges() != 1 || g.IDTokens() != 1 {
		t.Errorf("Google's library: exchanges, ID tokens = %d, %d; want 1, 1", g.Exchanges(), g.IDTokens())
	}
	srv := g.Front(testAudience, testAccount, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	req, _ := http.NewRequest(http.MethodGet, testAudience, nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	rec := &statusRecorder{}
	srv.ServeHTTP(rec, req)
	if rec.status != 0 && rec.status != 200 {
		t.Errorf("the front refused Google's token: %d %v", rec.status, g.Rejections())
	}
}

// The subject token we sign has the shape of Google's: the same URL,
// method, headers and signed headers, and the same verification accepts it.
func TestSubjectTokenMatchesGoogles(t *testing.T) {
	g := startGoogle(t, nil)
	googleIDToken(t, g)
	if _, err := newSource(t, g, nil).Token(context.Background()); err != nil {
		t.Fatalf("our client against the same fakes: %v", err)
	}
	subjects := g.SubjectTokens()
	if len(subjects) != 2 {
		t.Fatalf("STS received %d subject tokens, want 2 (Google's, ours)", len(subjects))
	}
	type shape struct {
		URL, Method   string
		HeaderKeys    []string
		SignedHeaders string
		Scope         string
	}
	shapeOf := func(raw string) shape {
		decoded, err := url.QueryUnescape(raw)
		if err != nil {
			t.Fatal(err)
		}
		var req struct {
			URL, Method string
			Headers     []struct{ Key, Value string }
		}
		if err := json.Unmarshal([]byte(decoded), &req); err != nil {
			t.Fatalf("subject token %s: %v", decoded, err)
		}
		s := shape{URL: req.URL, Method: req.Method}
		for _, h := range req.Headers {
			s.HeaderKeys = append(s.HeaderKeys, h.Key)
			if h.Key == "Authorization" {
				for _, f := range strings.Split(strings.TrimPrefix(h.Value, "AWS4-HMAC-SHA256 "), ", ") {
					k, v, _ := strings.Cut(f, "=")
					switch k {
					case "SignedHeaders":
						s.SignedHeaders = v
					case "Credential":
						parts := strings.SplitN(v, "/", 3)
						s.Scope = parts[0] + " " + parts[2] // key and region/service/terminator
					}
				}
			}
		}
		return s
	}
	google, ours := shapeOf(subjects[0]), shapeOf(subjects[1])
	if !slices.IsSorted(ours.HeaderKeys) {
		t.Errorf("our subject token's headers %v are not sorted", ours.HeaderKeys)
	}
	if fmt.Sprint(google) != fmt.Sprint(ours) {
		t.Errorf("subject token shapes differ:\nGoogle's %+v\nours     %+v", google, ours)
	}
	want := shape{
		URL:           "https://sts.us-east-1.amazonaws.com?Action=GetCallerIdentity&Version=2011-06-15",
		Method:        "POST",
		HeaderKeys:    []string{"Authorization", "Host", "X-Amz-Date", "X-Amz-Security-Token", "X-Goog-Cloud-Target-Resource"},
		SignedHeaders: "host;x-amz-date;x-amz-security-token;x-goog-cloud-target-resource",
		Scope:         proxyIdentity.AccessKeyID + " us-east-1/sts/aws4_request",
	}
	if fmt.Sprint(ours) != fmt.Sprint(want) {
		t.Errorf("our subject token shape = %+v, want %+v", ours, want)
	}
}

// The fake issuer's tokens verify with Google's own validator against its
// JWKS, as Google's tokens verify against https://www.googleapis.com/oauth2/v3/certs.
func TestGoogleValidatorAcceptsTheIssuersTokens(t *testing.T) {
	g := startGoogle(t, nil)
	tok, err := newSource(t, g, nil).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	v, err := idtoken.NewValidator(&idtoken.ValidatorOptions{RS256CertsURL: g.JWKSURL(), Client: &http.Client{Transport: loopbackOnly{}}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, testAudience, nil)
	tok.SetAuthHeader(req)
	raw := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	payload, err := v.Validate(context.Background(), raw, testAudience)
	if err != nil {
		t.Fatalf("Google's validator refused the fake issuer's token: %v", err)
	}
	if payload.Issuer != googleauthfake.Issuer || payload.Claims["email"] != testAccount || payload.Claims["email_verified"] != true {
		t.Errorf("token payload = %+v, want Google's issuer and the caller's verified email", payload)
	}
	if _, err := v.Validate(context.Background(), raw, testAudience+"/other"); err == nil {
		t.Error("Google's validator accepted the token for another audience")
	}
}

// statusRecorder records the status a handler writes.
type statusRecorder struct {
	status int
	header http.Header
}

func (r *statusRecorder) Header() http.Header {
	if r.header == nil {
		r.header = http.Header{}
	}
	return r.header
}
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(s int)           { r.status = s }

// Google's library and ours, against the same fakes, send the same token
// exchange (every form field but the subject token, whose shape
// TestSubjectTokenMatchesGoogles compares) and the same generateIdToken
// request, and get ID tokens with the same header and claims.
func TestGoogleLibraryAndOursMakeTheSameRequests(t *testing.T) {
	g := startGoogle(t, nil)
	googles := googleIDToken(t, g)
	split := len(g.Requests())
	tok, err := newSource(t, g, nil).Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	all := g.Requests()
	google, ours := all[:split], all[split:]
	if len(google) != 2 || len(ours) != 2 {
		t.Fatalf("requests: Google's library %d, ours %d; want 2 each (exchange, generateIdToken)", len(google), len(ours))
	}
	for i, step := range []string{"sts", "iamcredentials"} {
		a, b := google[i], ours[i]
		a.ContentType, _, _ = strings.Cut(a.ContentType, ";")
		b.ContentType, _, _ = strings.Cut(b.ContentType, ";")
		if a.Service != step || b.Service != step {
			t.Errorf("request %d: services %q and %q, want %q", i, a.Service, b.Service, step)
		}
		if fmt.Sprintf("%+v", a) != fmt.Sprintf("%+v", b) {
			t.Errorf("%s request differs:\nGoogle's %+v\nours     %+v", step, a, b)
		}
	}
	if f := ours[0].Form; f.Get("scope") != federation.ScopeCloudPlatform || f.Get("audience") != g.Audience() {
		t.Errorf("our exchange form = %v, want the cloud-platform scope and the pool provider as audience", f)
	}
	if b := ours[1].Body; b["audience"] != testAudience || b["includeEmail"] != true {
		t.Errorf("our generateIdToken body = %v, want the service URL as audience and includeEmail", b)
	}

	req, _ := http.NewRequest(http.MethodGet, testAudience, nil)
	tok.SetAuthHeader(req)
	mine := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
	headerA, claimsA := jwtParts(t, googles)
	headerB, claimsB := jwtParts(t, mine)
	if fmt.Sprint(headerA) != fmt.Sprint(headerB) {
		t.Errorf("ID token headers differ: Google's %v, ours %v", headerA, headerB)
	}
	lifetime := func(c map[string]any) float64 { return c["exp"].(float64) - c["iat"].(float64) }
	if lifetime(claimsA) != lifetime(claimsB) {
		t.Errorf("ID token lifetimes differ: Google's %v s, ours %v s", lifetime(claimsA), lifetime(claimsB))
	}
	for _, c := range []map[string]any{claimsA, claimsB} {
		delete(c, "exp")
		delete(c, "iat")
	}
	if fmt.Sprint(claimsA) != fmt.Sprint(claimsB) {
		t.Errorf("ID token claims differ:\nGoogle's %v\nours     %v", claimsA, claimsB)
	}
	if claimsB["aud"] != testAudience || claimsB["email"] != testAccount {
		t.Errorf("our ID token's claims = %v, want aud %s and email %s", claimsB, testAudience, testAccount)
	}
}

// jwtParts decodes a JWT's header and claims, without checking it.
func jwtParts(t *testing.T, raw string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("%d parts in an ID token, want 3", len(parts))
	}
	for i, into := range []*map[string]any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err == nil {
			err = json.Unmarshal(b, into)
		}
		if err != nil {
			t.Fatalf("ID token part %d: %v", i, err)
		}
	}
	return header, claims
}
