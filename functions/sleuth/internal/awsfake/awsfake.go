// Package awsfake serves wire-level fakes of the AWS services the sleuth
// Lambdas call (Rekognition, DynamoDB, SNS and SSM) on one loopback HTTP
// server, so tests point the real aws-sdk-go-v2 clients at it through
// BaseEndpoint or AWS_ENDPOINT_URL and nothing re-implements an SDK.
//
// Requests are routed the way AWS routes them: JSON protocols by the
// X-Amz-Target header ("RekognitionService.*", "DynamoDB_20120810.*",
// "AmazonSSM.*"), the SNS query protocol by its form's Action. Each fake keeps
// its state in memory behind a mutex and records what it was asked, for
// assertions. The SNS and SSM fakes are also http.Handlers of their own, for
// a test that wants one server per service.
package awsfake

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Cloud is the set of fakes behind one server. Its fields are ready to use
// after NewCloud; configure them before the first request.
type Cloud struct {
	Rekognition *Rekognition
	DynamoDB    *DynamoDB
	SNS         *SNS
	SSM         *SSM

	// Server is the loopback server; its URL is the endpoint of every
	// service.
	Server *httptest.Server
}

// NewCloud starts a Cloud on 127.0.0.1. The caller closes it with Close
// (tests: t.Cleanup(c.Close)).
func NewCloud() *Cloud {
	c := &Cloud{
		Rekognition: NewRekognition(),
		DynamoDB:    NewDynamoDB(),
		SNS:         NewSNS(),
		SSM:         NewSSM(),
	}
	c.Server = httptest.NewServer(c)
	return c
}

// URL is the endpoint to give the SDK clients.
func (c *Cloud) URL() string { return c.Server.URL }

// Close shuts the server down.
func (c *Cloud) Close() { c.Server.Close() }

// Config returns an aws.Config for the fakes: static credentials, region
// us-east-1, every service's endpoint set to the server and retries off, so
// an injected error reaches the caller at once.
func (c *Cloud) Config() aws.Config { return Config(c.URL()) }

// Config returns an aws.Config for a fake at endpoint: static credentials,
// region us-east-1, BaseEndpoint set and retries off.
func Config(endpoint string) aws.Config {
	return aws.Config{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIDFAKE", SecretAccessKey: "fake-secret", Source: "awsfake"}, nil
		}),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// ServeHTTP routes a request to the fake of its service.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		writeJSONError(w, http.StatusForbidden, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	target := r.Header.Get("X-Amz-Target")
	service, op, _ := strings.Cut(target, ".")
	switch service {
	case "RekognitionService":
		c.Rekognition.serve(w, r, op)
	case "DynamoDB_20120810":
		c.DynamoDB.serve(w, r, op)
	case "AmazonSSM":
		c.SSM.ServeHTTP(w, r)
	case "":
		c.SNS.ServeHTTP(w, r)
	default:
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "unknown target "+target)
	}
}

// Faults injects errors: the next calls of an operation fail with the queued
// error codes, one per call, once a request is well-formed and before the
// fake acts on it.
type Faults struct {
	mu    sync.Mutex
	queue map[string][]string
}

// Inject makes the next len(codes) calls of op fail, in order, with codes
// (e.g. "ThrottlingException").
func (f *Faults) Inject(op string, codes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.queue == nil {
		f.queue = map[string][]string{}
	}
	f.queue[op] = append(f.queue[op], codes...)
}

// Clear drops the faults queued for op.
func (f *Faults) Clear(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.queue, op)
}

// next pops the fault queued for op, if any.
func (f *Faults) next(op string) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := f.queue[op]
	if len(q) == 0 {
		return "", false
	}
	f.queue[op] = q[1:]
	return q[0], true
}

// faultStatus is the HTTP status AWS uses for an error code.
func faultStatus(code string) int {
	switch code {
	case "InternalServerError", "InternalFailure", "InternalServerErrorException":
		return http.StatusInternalServerError
	case "ServiceUnavailable", "ServiceUnavailableException":
		return http.StatusServiceUnavailable
	default:
		return http.StatusBadRequest
	}
}

// Envelope checks what a request carries besides its parameters (method,
// path, content type, protocol version or target, SigV4 signature) and
// records the requests it refuses. A test whose client is the real SDK
// should find none: one means the client was built or pointed wrongly.
type Envelope struct {
	mu          sync.Mutex
	accessKeyID string
	errs        []error
}

// RequireAccessKey makes the fake refuse requests that are not signed with
// SigV4 for accessKeyID. Until it is called, any SigV4 signature passes.
func (e *Envelope) RequireAccessKey(accessKeyID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.accessKeyID = accessKeyID
}

// Errors returns the malformed requests the fake refused so far, in order.
func (e *Envelope) Errors() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

// refuse records err as a malformed request.
func (e *Envelope) refuse(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.errs = append(e.errs, err)
}

// checkSigned returns an error unless r carries a SigV4 Authorization
// header, for the required access key if there is one, as AWS would.
func (e *Envelope) checkSigned(r *http.Request) error {
	e.mu.Lock()
	key := e.accessKeyID
	e.mu.Unlock()
	auth := r.Header.Get("Authorization")
	scheme := "AWS4-HMAC-SHA256 Credential="
	if key != "" && !strings.HasPrefix(auth, scheme+key+"/") {
		return fmt.Errorf("request not signed with SigV4 for %s: Authorization %q", key, auth)
	}
	if !strings.HasPrefix(auth, scheme) || len(auth) == len(scheme) {
		return fmt.Errorf("request not signed with SigV4: Authorization %q", auth)
	}
	return nil
}

// checkPost returns an error unless r is a POST to /, as every AWS
// protocol the fakes speak sends.
func checkPost(r *http.Request) error {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return fmt.Errorf("got %s %s, want POST /", r.Method, r.URL.Path)
	}
	return nil
}

// writeJSONError writes an error of the AWS JSON protocols.
func writeJSONError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("X-Amzn-ErrorType", code)
	writeJSONStatus(w, status, "application/x-amz-json-1.1", map[string]string{"__type": code, "message": message})
}

// writeJSON writes a successful response of the AWS JSON protocols.
func writeJSON(w http.ResponseWriter, contentType string, v any) {
	writeJSONStatus(w, http.StatusOK, contentType, v)
}

// writeJSONStatus writes a JSON response with the CRC32 of its body in
// X-Amz-Crc32, as DynamoDB does and its SDK client checks.
func writeJSONStatus(w http.ResponseWriter, status int, contentType string, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusInternalServerError, []byte(`{"__type":"InternalFailure","message":"awsfake: encode response"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	w.WriteHeader(status)
	// A failed write means the client went away; there is no one to tell.
	_, _ = w.Write(body)
}

// decodeJSON reads a JSON request body into v, answering 400 on failure.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		writeJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return false
	}
	return true
}
