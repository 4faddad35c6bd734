package awsfake

import (
	"net/http"
	"sync"
)

// SSM fakes GetParameter and GetParameters on in-memory parameters.
// SecureString values are returned in clear only WithDecryption, like SSM
// (otherwise a placeholder stands for the ciphertext).
type SSM struct {
	Faults

	mu     sync.Mutex
	params map[string]ssmParam
	calls  map[string]int
}

type ssmParam struct {
	Type, Value string
}

// NewSSM returns a fake with no parameters.
func NewSSM() *SSM { return &SSM{params: map[string]ssmParam{}, calls: map[string]int{}} }

// PutSecureString stores a SecureString parameter.
func (f *SSM) PutSecureString(name, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.params[name] = ssmParam{Type: "SecureString", Value: value}
}

// Calls returns how many requests of op the fake served, faults included.
func (f *SSM) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *SSM) parameter(name string, decrypt bool) (map[string]any, bool) {
	p, ok := f.params[name]
	if !ok {
		return nil, false
	}
	value := p.Value
	if p.Type == "SecureString" && !decrypt {
		value = "AQICAHfakeciphertext"
	}
	return map[string]any{
		"Name": name, "Type": p.Type, "Value": value, "Version": 1,
		"ARN": "arn:aws:ssm:us-east-1:123456789012:parameter" + name,
	}, true
}

func (f *SSM) serve(w http.ResponseWriter, r *http.Request, op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if code, ok := f.next(op); ok {
		writeJSONError(w, faultStatus(code), code, "injected fault")
		return
	}
	switch op {
	case "GetParameter":
		var in struct {
			Name           string
			WithDecryption bool
		}
		if !decodeJSON(w, r, &in) {
			return
		}
		p, ok := f.parameter(in.Name, in.WithDecryption)
		if !ok {
			writeJSONError(w, http.StatusBadRequest, "ParameterNotFound", "")
			return
		}
		writeJSON(w, "application/x-amz-json-1.1", map[string]any{"Parameter": p})
	case "GetParameters":
		var in struct {
			Names          []string
			WithDecryption bool
		}
		if !decodeJSON(w, r, &in) {
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
	default:
		writeJSONError(w, http.StatusBadRequest, "UnknownOperationException", "fake does not implement "+op)
	}
}
