// Package awsxtest provides wire-level fakes of the AWS services the sleuth
// functions use (SNS over the query protocol, SSM over JSON 1.1), for tests
// that point the real aws-sdk-go-v2 clients at them through endpoint
// overrides, in-process or in a Lambda bootstrap run under the Runtime
// Interface Emulator.
package awsxtest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Region, AccessKeyID and SecretAccessKey are the static settings the fakes
// expect clients to use; Env returns them as environment variables.
const (
	Region          = "us-east-1"
	AccessKeyID     = "AKIDFAKEFORTESTS"
	SecretAccessKey = "fake-secret-for-tests"
)

// Env returns the environment that makes config.LoadDefaultConfig and
// awsx.LambdaConfig build a config for the fakes: static credentials,
// Region, no shared config files, no instance metadata, and
// AWS_ENDPOINT_URL_<SERVICE> for each entry of endpoints (service id, e.g.
// "SNS", to base URL). Pass it to a Lambda bootstrap's environment, or use
// Setenv in-process.
func Env(t testing.TB, endpoints map[string]string) map[string]string {
	t.Helper()
	missing := filepath.Join(t.TempDir(), "no-such-file")
	env := map[string]string{
		"AWS_ACCESS_KEY_ID":           AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       SecretAccessKey,
		"AWS_REGION":                  Region,
		"AWS_CONFIG_FILE":             missing,
		"AWS_SHARED_CREDENTIALS_FILE": missing,
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for service, endpoint := range endpoints {
		env["AWS_ENDPOINT_URL_"+strings.ToUpper(service)] = endpoint
	}
	return env
}

// interfering are variables of the machine's environment that would change
// what config.LoadDefaultConfig builds from Env.
var interfering = []string{
	"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL",
	"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
}

// Setenv sets Env(t, endpoints) for the rest of the test, and unsets the
// variables that would interfere with it (AWS_PROFILE, AWS_ENDPOINT_URL,
// ...), so the test must not be parallel.
func Setenv(t testing.TB, endpoints map[string]string) {
	t.Helper()
	for _, k := range interfering {
		t.Setenv(k, "") // restores the old value at cleanup
		os.Unsetenv(k)  // the SDK reads a set but empty AWS_ENDPOINT_URL as set
	}
	for k, v := range Env(t, endpoints) {
		t.Setenv(k, v)
	}
}

// checkSigned fails the request unless it carries a SigV4 Authorization
// header for AccessKeyID, as the real services would.
func checkSigned(r *http.Request) error {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+AccessKeyID+"/") {
		return fmt.Errorf("request not signed with SigV4 for %s: Authorization %q", AccessKeyID, auth)
	}
	return nil
}

// Published is one message the fake SNS accepted.
type Published struct {
	TopicARN   string
	Message    string
	Attributes map[string]string // String message attributes, by name
}

// SNS is a fake Amazon SNS that accepts Publish (query protocol) and records
// the messages.
type SNS struct {
	// URL is the endpoint for AWS_ENDPOINT_URL_SNS.
	URL string

	topics map[string]bool // nil: every topic exists

	mu        sync.Mutex
	published []Published
	errs      []error
	failCode  string
	failCount int
}

// NewSNS starts a fake SNS, closed when the test ends. With topicARNs,
// publishing to any other topic fails with NotFound, as on AWS; without,
// every topic exists.
func NewSNS(t testing.TB, topicARNs ...string) *SNS {
	t.Helper()
	s := &SNS{}
	if len(topicARNs) > 0 {
		s.topics = make(map[string]bool, len(topicARNs))
		for _, arn := range topicARNs {
			s.topics[arn] = true
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Published returns the messages accepted so far, in order.
func (s *SNS) Published() []Published {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Published(nil), s.published...)
}

// Errors returns the malformed requests seen so far (wrong protocol, action
// or signature): a test should expect none.
func (s *SNS) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

// Fail makes the next n Publish calls fail with the error code, e.g.
// "InternalError" (a retryable 500) or "AuthorizationError" (403).
func (s *SNS) Fail(code string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCode, s.failCount = code, n
}

// snsErrorStatus is the HTTP status SNS answers each error code with.
var snsErrorStatus = map[string]int{
	"NotFound":           http.StatusNotFound,
	"InvalidParameter":   http.StatusBadRequest,
	"AuthorizationError": http.StatusForbidden,
	"InternalError":      http.StatusInternalServerError,
	"Throttled":          http.StatusBadRequest,
	"InvalidAction":      http.StatusBadRequest,
}

func (s *SNS) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	form, err := s.parse(r)
	if err != nil {
		s.errs = append(s.errs, err)
		writeSNSError(w, "InvalidParameter", err.Error())
		return
	}
	if action := form.Get("Action"); action != "Publish" {
		s.errs = append(s.errs, fmt.Errorf("unsupported action %q", action))
		writeSNSError(w, "InvalidAction", "the fake supports Publish only")
		return
	}
	if s.failCount > 0 {
		s.failCount--
		writeSNSError(w, s.failCode, "injected failure")
		return
	}
	topic := form.Get("TopicArn")
	if s.topics != nil && !s.topics[topic] {
		writeSNSError(w, "NotFound", "Topic does not exist")
		return
	}
	msg := Published{TopicARN: topic, Message: form.Get("Message"), Attributes: map[string]string{}}
	for i := 1; form.Has("MessageAttributes.entry." + strconv.Itoa(i) + ".Name"); i++ {
		prefix := "MessageAttributes.entry." + strconv.Itoa(i) + "."
		if dt := form.Get(prefix + "Value.DataType"); dt != "String" {
			writeSNSError(w, "InvalidParameter", "the fake supports String attributes only, got "+dt)
			return
		}
		msg.Attributes[form.Get(prefix+"Name")] = form.Get(prefix + "Value.StringValue")
	}
	s.published = append(s.published, msg)
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><PublishResult><MessageId>%08d-0000-4000-8000-000000000000</MessageId></PublishResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></PublishResponse>`, len(s.published))
}

// parse checks the envelope of a query-protocol request and returns its form.
func (s *SNS) parse(r *http.Request) (url.Values, error) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return nil, fmt.Errorf("got %s %s, want POST /", r.Method, r.URL.Path)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		return nil, fmt.Errorf("content type %q, want application/x-www-form-urlencoded", ct)
	}
	if err := checkSigned(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("body is not a form: %w", err)
	}
	if v := form.Get("Version"); v != "2010-03-31" {
		return nil, fmt.Errorf("API version %q, want 2010-03-31", v)
	}
	return form, nil
}

func writeSNSError(w http.ResponseWriter, code, message string) {
	status, ok := snsErrorStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	var escaped strings.Builder
	xml.EscapeText(&escaped, []byte(message))
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/"><Error><Type>%s</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`,
		kind, code, escaped.String())
}

// GetParameterRequest is one GetParameter call the fake SSM served.
type GetParameterRequest struct {
	Name           string
	WithDecryption bool
}

// SSM is a fake AWS Systems Manager Parameter Store that serves
// GetParameter (JSON 1.1 protocol) for a fixed set of SecureString
// parameters.
type SSM struct {
	// URL is the endpoint for AWS_ENDPOINT_URL_SSM.
	URL string

	params map[string]string

	mu       sync.Mutex
	requests []GetParameterRequest
	errs     []error
}

// NewSSM starts a fake SSM holding params (name to decrypted value), closed
// when the test ends. A GetParameter without WithDecryption gets a value
// that is visibly not the secret, as SecureStrings are.
func NewSSM(t testing.TB, params map[string]string) *SSM {
	t.Helper()
	s := &SSM{params: maps.Clone(params)}
	if s.params == nil {
		s.params = map[string]string{}
	}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

// Set creates or changes a parameter.
func (s *SSM) Set(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.params[name] = value
}

// Requests returns the GetParameter calls served so far, in order.
func (s *SSM) Requests() []GetParameterRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]GetParameterRequest(nil), s.requests...)
}

// Errors returns the malformed requests seen so far: a test should expect
// none.
func (s *SSM) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

func (s *SSM) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fail := func(status int, code, message string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": message})
	}
	var in struct {
		Name           string
		WithDecryption bool
	}
	err := checkSigned(r)
	switch {
	case err != nil:
	case r.Method != http.MethodPost || r.URL.Path != "/":
		err = fmt.Errorf("got %s %s, want POST /", r.Method, r.URL.Path)
	case r.Header.Get("Content-Type") != "application/x-amz-json-1.1":
		err = fmt.Errorf("content type %q, want application/x-amz-json-1.1", r.Header.Get("Content-Type"))
	case r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter":
		err = fmt.Errorf("target %q, want AmazonSSM.GetParameter", r.Header.Get("X-Amz-Target"))
	default:
		err = json.NewDecoder(r.Body).Decode(&in)
	}
	if err != nil {
		s.errs = append(s.errs, err)
		fail(http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	s.requests = append(s.requests, GetParameterRequest{Name: in.Name, WithDecryption: in.WithDecryption})
	value, ok := s.params[in.Name]
	if !ok {
		fail(http.StatusBadRequest, "ParameterNotFound", "parameter "+in.Name+" not found")
		return
	}
	if !in.WithDecryption {
		value = "AQICAH-encrypted-" + strconv.Itoa(len(value))
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(map[string]any{"Parameter": map[string]any{
		"Name": in.Name, "Type": "SecureString", "Value": value, "Version": 1,
		"ARN": "arn:aws:ssm:" + Region + ":123456789012:parameter/" + strings.TrimPrefix(in.Name, "/"),
	}})
}
