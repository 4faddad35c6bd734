package awsfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
)

// SSM fakes GetParameter and GetParameters (JSON 1.1 protocol) on in-memory
// parameters. SecureString values are returned in clear only
// WithDecryption, like SSM; otherwise a placeholder stands for the
// ciphertext. It refuses, and records in Errors, requests that are not
// well-formed calls of those operations.
type SSM struct {
	Faults
	Envelope

	mu       sync.Mutex
	params   map[string]ssmParam
	calls    map[string]int
	requests []GetParameterRequest
	batches  []GetParameterRequest
}

type ssmParam struct {
	Type, Value string
}

// GetParameterRequest is one GetParameter call the fake received.
type GetParameterRequest struct {
	Name           string
	WithDecryption bool
}

// ssmCiphertext stands for the value of a SecureString read without
// decryption: visibly not the secret.
const ssmCiphertext = "AQICAHfakeciphertext"

// NewSSM returns a fake with no parameters.
func NewSSM() *SSM { return &SSM{params: map[string]ssmParam{}, calls: map[string]int{}} }

// PutSecureString creates or changes a SecureString parameter.
func (f *SSM) PutSecureString(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.params[name] = ssmParam{Type: "SecureString", Value: value}
}

// Calls returns how many well-formed requests of op the fake served, faults
// included.
func (f *SSM) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// BatchRequests returns the well-formed GetParameters requests the fake
// served, faults included, in order; Name holds the names joined by ",".
func (f *SSM) BatchRequests() []GetParameterRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]GetParameterRequest(nil), f.batches...)
}

// Requests returns the well-formed GetParameter requests the fake served,
// faults included, in order.
func (f *SSM) Requests() []GetParameterRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]GetParameterRequest(nil), f.requests...)
}

func (f *SSM) parameter(name string, decrypt bool) (map[string]any, bool) {
	p, ok := f.params[name]
	if !ok {
		return nil, false
	}
	value := p.Value
	if p.Type == "SecureString" && !decrypt {
		value = ssmCiphertext
	}
	return map[string]any{
		"Name": name, "Type": p.Type, "Value": value, "Version": 1, "DataType": "text",
		"ARN": "arn:aws:ssm:us-east-1:123456789012:parameter/" + strings.TrimPrefix(name, "/"),
	}, true
}

// ServeHTTP serves one JSON 1.1 request.
func (f *SSM) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := f.checkSigned(r); err != nil {
		f.refuse(err)
		writeJSONError(w, http.StatusBadRequest, "UnrecognizedClientException", err.Error())
		return
	}
	if err := checkPost(r); err != nil {
		f.refuse(err)
		writeJSONError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		err := fmt.Errorf("content type %q, want application/x-amz-json-1.1", ct)
		f.refuse(err)
		writeJSONError(w, http.StatusBadRequest, "ValidationException", err.Error())
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSSM.")
	if !ok || (op != "GetParameter" && op != "GetParameters") {
		f.refuse(fmt.Errorf("target %q, want AmazonSSM.GetParameter or AmazonSSM.GetParameters", target))
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "the fake does not implement "+target)
		return
	}
	var in struct {
		Name           string
		Names          []string
		WithDecryption bool
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		err = fmt.Errorf("%s body: %w", op, err)
		f.refuse(err)
		writeJSONError(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if op == "GetParameter" {
		f.requests = append(f.requests, GetParameterRequest{Name: in.Name, WithDecryption: in.WithDecryption})
	} else {
		f.batches = append(f.batches, GetParameterRequest{Name: strings.Join(in.Names, ","), WithDecryption: in.WithDecryption})
	}
	if code, ok := f.next(op); ok {
		writeJSONError(w, faultStatus(code), code, "injected fault")
		return
	}
	switch op {
	case "GetParameter":
		if in.Name == "" {
			writeJSONError(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length greater than or equal to 1")
			return
		}
		p, ok := f.parameter(in.Name, in.WithDecryption)
		if !ok {
			writeJSONError(w, http.StatusBadRequest, "ParameterNotFound", "parameter "+in.Name+" not found")
			return
		}
		writeJSON(w, "application/x-amz-json-1.1", map[string]any{"Parameter": p})
	case "GetParameters":
		if len(in.Names) == 0 || len(in.Names) > 10 {
			writeJSONError(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10, got %d", len(in.Names)))
			return
		}
		found, invalid := []any{}, []string{}
		for _, name := range in.Names {
			if p, ok := f.parameter(name, in.WithDecryption); ok {
				found = append(found, p)
			} else {
				invalid = append(invalid, name)
			}
		}
		writeJSON(w, "application/x-amz-json-1.1", map[string]any{"Parameters": found, "InvalidParameters": invalid})
	}
}
