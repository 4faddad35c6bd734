package googleauthfake

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/crossfaas/crossfaas/federation"
)

// Values of the exchange form.
const (
	grantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	tokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
)

// awsMaxSkew is how far a SigV4 request's time may be from the server's.
const awsMaxSkew = 15 * time.Minute

// stsError is an OAuth error answer of Google's STS.
type stsError struct {
	status      int
	code        string
	description string
}

// serveToken is STS's token exchange.
func (g *Google) serveToken(w http.ResponseWriter, r *http.Request) {
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
		writeSTSError(w, stsError{400, "invalid_request", "Content-Type must be application/x-www-form-urlencoded"})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeSTSError(w, stsError{400, "invalid_request", "the request body is not a valid form"})
		return
	}
	f := r.PostForm
	form := url.Values{}
	for k, v := range f {
		if k != "subject_token" {
			form[k] = v
		}
	}
	g.record(Request{Service: "sts", Method: r.Method, Path: r.URL.Path, ContentType: r.Header.Get("Content-Type"), Form: form})
	switch {
	case f.Get("grant_type") != grantTypeTokenExchange:
		writeSTSError(w, stsError{400, "unsupported_grant_type", fmt.Sprintf("grant_type must be %s", grantTypeTokenExchange)})
		return
	case f.Get("requested_token_type") != tokenTypeAccessToken:
		writeSTSError(w, stsError{400, "invalid_request", fmt.Sprintf("requested_token_type must be %s", tokenTypeAccessToken)})
		return
	case f.Get("subject_token_type") != federation.SubjectTokenTypeAWS:
		writeSTSError(w, stsError{400, "invalid_request", "subject_token_type must be " + federation.SubjectTokenTypeAWS + " for an AWS provider"})
		return
	case f.Get("audience") != g.Audience():
		writeSTSError(w, stsError{400, "invalid_target", "The target service indicated by the \"audience\" parameters is invalid. This might either be because the pool or provider is disabled or deleted or because it doesn't exist."})
		return
	case f.Get("subject_token") == "":
		writeSTSError(w, stsError{400, "invalid_request", "subject_token is required"})
		return
	}

	g.mu.Lock()
	g.subjects = append(g.subjects, f.Get("subject_token"))
	g.mu.Unlock()
	arn, failure := g.verifySubjectToken(f.Get("subject_token"))
	if failure != nil {
		writeSTSError(w, *failure)
		return
	}
	// The provider's attribute condition:
	// assertion.arn.startsWith('<role ARN>/') [|| ...], one per role.
	admitted := false
	for _, role := range append([]string{g.cfg.AllowedRole}, g.cfg.AllowedRoles...) {
		admitted = admitted || strings.HasPrefix(arn, role+"/")
	}
	if !admitted {
		writeSTSError(w, stsError{403, "unauthorized_client", "The given credential is rejected by the attribute condition."})
		return
	}

	token := randomToken("ya29.fake-federated.")
	g.mu.Lock()
	g.federated[token] = federatedToken{
		role:    roleOf(arn),
		scopes:  strings.Fields(f.Get("scope")),
		expires: g.cfg.Now().Add(g.cfg.Lifetime),
	}
	g.exchanges++
	g.sensitive = append(g.sensitive, token)
	g.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":      token,
		"issued_token_type": tokenTypeAccessToken,
		"token_type":        "Bearer",
		"expires_in":        int(g.cfg.Lifetime / time.Second),
	})
}

// roleOf returns attribute.aws_role of an ARN, as Google's default AWS
// attribute mapping computes it: an assumed-role ARN without its session.
func roleOf(arn string) string {
	head, rest, ok := strings.Cut(arn, ":assumed-role/")
	if !ok {
		return arn
	}
	role, _, _ := strings.Cut(rest, "/")
	return head + ":assumed-role/" + role
}

// subjectRequest is the signed AWS request a subject token encodes.
type subjectRequest struct {
	URL     string `json:"url"`
	Method  string `json:"method"`
	Headers []struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	} `json:"headers"`
}

// verifySubjectToken checks a subject token the way Google STS and AWS STS
// together do and returns the caller's ARN.
func (g *Google) verifySubjectToken(raw string) (string, *stsError) {
	invalid := func(format string, args ...any) (string, *stsError) {
		return "", &stsError{400, "invalid_grant", fmt.Sprintf(format, args...)}
	}
	awsRefused := func(typ, message string) (string, *stsError) {
		return invalid("Received invalid AWS response of type %s with error message: %s", typ, message)
	}

	decoded, err := url.QueryUnescape(raw)
	if err != nil {
		return invalid("The subject token is not URL-encoded.")
	}
	var req subjectRequest
	if err := json.Unmarshal([]byte(decoded), &req); err != nil {
		return invalid("The subject token is not a serialized AWS request.")
	}
	if req.Method != http.MethodPost {
		return invalid("The AWS request must be a POST, not %q.", req.Method)
	}
	u, err := url.Parse(req.URL)
	if err != nil || u.Scheme != "https" {
		return invalid("The AWS request URL must be an https URL.")
	}
	region, ok := stsRegion(u.Host)
	if !ok {
		return invalid("The AWS request URL must be an AWS STS endpoint, not %q.", u.Host)
	}
	if q := u.Query(); len(q) != 2 || q.Get("Action") != "GetCallerIdentity" || q.Get("Version") != "2011-06-15" {
		return invalid("The AWS request must be Action=GetCallerIdentity&Version=2011-06-15.")
	}

	headers := map[string][]string{}
	for _, h := range req.Headers {
		key := strings.ToLower(h.Key)
		headers[key] = append(headers[key], h.Value)
	}
	one := func(name string) string {
		if v := headers[name]; len(v) == 1 {
			return v[0]
		}
		return ""
	}
	if one("host") != u.Host {
		return invalid("The AWS request's host header must be %q.", u.Host)
	}
	if one("x-goog-cloud-target-resource") != g.Audience() {
		return invalid("The x-goog-cloud-target-resource header of the AWS request does not match the audience.")
	}

	auth, ok := parseAuthorization(one("authorization"))
	if !ok {
		return awsRefused("IncompleteSignature", "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' (AWS4-HMAC-SHA256).")
	}
	identity, ok := g.identity(auth.accessKeyID)
	if !ok {
		return awsRefused("InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	amzDate := one("x-amz-date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil {
		return awsRefused("IncompleteSignature", "The request must contain a valid x-amz-date header.")
	}
	if skew := g.cfg.Now().Sub(signedAt); skew > awsMaxSkew || skew < -awsMaxSkew {
		return awsRefused("SignatureDoesNotMatch", "Signature expired: "+amzDate+" is now earlier or later than the allowed 15 minutes.")
	}
	if auth.date != signedAt.Format("20060102") || auth.region != region || auth.service != "sts" || auth.terminator != "aws4_request" {
		return awsRefused("SignatureDoesNotMatch", "Credential should be scoped to a valid region and service: "+auth.date+"/"+auth.region+"/"+auth.service+".")
	}
	if region != g.cfg.AWSRegion {
		return awsRefused("SignatureDoesNotMatch", "Credential should be scoped to the region "+g.cfg.AWSRegion+", not "+region+".")
	}
	for _, required := range []string{"host", "x-amz-date", "x-goog-cloud-target-resource"} {
		if !slices.Contains(auth.signedHeaders, required) {
			return awsRefused("SignatureDoesNotMatch", "The "+required+" header must be signed.")
		}
	}
	if sent := one("x-amz-security-token"); sent != identity.SessionToken ||
		(sent != "" && !slices.Contains(auth.signedHeaders, "x-amz-security-token")) {
		return awsRefused("InvalidClientTokenId", "The security token included in the request is invalid.")
	}
	if !slices.IsSorted(auth.signedHeaders) {
		return awsRefused("SignatureDoesNotMatch", "SignedHeaders must be sorted.")
	}

	var canonical strings.Builder
	canonical.WriteString(req.Method + "\n")
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	canonical.WriteString(path + "\n")
	canonical.WriteString(canonicalQuery(u.Query()) + "\n")
	for _, name := range auth.signedHeaders {
		values, ok := headers[name]
		if !ok {
			return awsRefused("SignatureDoesNotMatch", "The signed header "+name+" is missing.")
		}
		trimmed := make([]string, len(values))
		for i, v := range values {
			trimmed[i] = strings.Join(strings.Fields(v), " ")
		}
		canonical.WriteString(name + ":" + strings.Join(trimmed, ",") + "\n")
	}
	canonical.WriteString("\n" + strings.Join(auth.signedHeaders, ";") + "\n")
	canonical.WriteString(hexSHA256(""))

	scope := auth.date + "/" + auth.region + "/" + auth.service + "/aws4_request"
	stringToSign := "AWS4-HMAC-SHA256\n" + amzDate + "\n" + scope + "\n" + hexSHA256(canonical.String())
	key := []byte("AWS4" + identity.SecretAccessKey)
	for _, part := range []string{auth.date, auth.region, auth.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, stringToSign))
	g.remember(auth.signature)
	if !hmac.Equal([]byte(want), []byte(auth.signature)) {
		return awsRefused("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.")
	}
	return identity.ARN, nil
}

// identity returns the principal of an access key.
func (g *Google) identity(accessKeyID string) (AWSIdentity, bool) {
	for _, id := range g.cfg.Identities {
		if id.AccessKeyID == accessKeyID {
			return id, true
		}
	}
	return AWSIdentity{}, false
}

// stsRegion returns the region of an AWS STS endpoint host:
// sts.<region>.amazonaws.com, or sts.amazonaws.com (us-east-1).
func stsRegion(host string) (string, bool) {
	if host == "sts.amazonaws.com" {
		return "us-east-1", true
	}
	rest, ok := strings.CutPrefix(host, "sts.")
	if !ok {
		return "", false
	}
	region, ok := strings.CutSuffix(rest, ".amazonaws.com")
	if !ok || region == "" || strings.ContainsAny(region, ".:") {
		return "", false
	}
	return region, true
}

// sigV4Authorization is a parsed AWS4-HMAC-SHA256 Authorization header.
type sigV4Authorization struct {
	accessKeyID, date, region, service, terminator string
	signedHeaders                                  []string
	signature                                      string
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=<key>/<date>/
// <region>/<service>/aws4_request, SignedHeaders=a;b, Signature=<hex>".
func parseAuthorization(h string) (sigV4Authorization, bool) {
	rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
	if !ok {
		return sigV4Authorization{}, false
	}
	var a sigV4Authorization
	var credential, signed string
	for _, field := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			a.signature = v
		}
	}
	parts := strings.Split(credential, "/")
	if len(parts) != 5 || signed == "" || a.signature == "" {
		return sigV4Authorization{}, false
	}
	a.accessKeyID, a.date, a.region, a.service, a.terminator = parts[0], parts[1], parts[2], parts[3], parts[4]
	a.signedHeaders = strings.Split(signed, ";")
	return a, true
}

// canonicalQuery is SigV4's canonical query string: parameters sorted by
// name then value, each URI-encoded as AWS specifies.
func canonicalQuery(q url.Values) string {
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, awsURIEncode(k)+"="+awsURIEncode(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// awsURIEncode percent-encodes every byte but the unreserved characters
// A-Z a-z 0-9 - _ . ~, with upper-case hex.
func awsURIEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('A' <= c && c <= 'Z') || ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || strings.IndexByte("-_.~", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func hexSHA256(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// writeSTSError writes an OAuth error as Google's STS does.
func writeSTSError(w http.ResponseWriter, e stsError) {
	writeJSON(w, e.status, map[string]string{"error": e.code, "error_description": e.description})
}

// writeJSON writes v as a JSON answer with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
