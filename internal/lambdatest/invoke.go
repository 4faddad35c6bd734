package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// invokePath is the emulator's invocation endpoint; the emulator serves a
// single function, whatever its name.
const invokePath = "/2015-03-31/functions/function/invocations"

// FunctionError is the error Invoke returns when the function, rather than
// the harness, failed: its handler returned an error or panicked (Type and
// Message as Lambda reports them, e.g. "errorString"), the invocation timed
// out (Type "Sandbox.Timedout"), or the bootstrap exited before serving it,
// as it does when its configuration is invalid (Type "Runtime.ExitError";
// Message then ends with the function's latest output).
type FunctionError struct {
	Type    string
	Message string
}

// Error describes the failure.
func (e *FunctionError) Error() string {
	return "lambda function error: " + e.Type + ": " + e.Message
}

// Invoke invokes the function synchronously with payload, which is
// marshalled to JSON unless it is a []byte or json.RawMessage, and returns
// the function's response payload. A failure of the function itself is a
// *FunctionError; any other error is the harness's or ctx's.
func (f *Function) Invoke(ctx context.Context, payload any) ([]byte, error) {
	var body []byte
	switch p := payload.(type) {
	case []byte:
		body = p
	case json.RawMessage:
		body = p
	default:
		var err error
		if body, err = json.Marshal(payload); err != nil {
			return nil, fmt.Errorf("invoke %s: marshal payload: %w", f.name, err)
		}
	}

	f.invokeMu.Lock()
	defer f.invokeMu.Unlock()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: %w", f.name, err)
	}
	defer resp.Body.Close()
	result, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("invoke %s: read response: %w", f.name, err)
	}
	if fnErr := f.functionError(resp.StatusCode, result); fnErr != nil {
		return nil, fnErr
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("invoke %s: emulator answered HTTP %d: %s", f.name, resp.StatusCode, result)
	}
	return result, nil
}

// functionError recognises the emulator's ways of reporting that the
// function failed: 200 with Lambda's error object, 200 with "Task timed
// out", 502 when the runtime exited.
func (f *Function) functionError(status int, body []byte) *FunctionError {
	switch status {
	case http.StatusOK:
		if bytes.HasPrefix(body, []byte("Task timed out")) {
			return &FunctionError{Type: "Sandbox.Timedout", Message: string(body)}
		}
		var e struct {
			Type    *string `json:"errorType"`
			Message *string `json:"errorMessage"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		if bytes.HasPrefix(body, []byte("{")) && dec.Decode(&e) == nil && e.Type != nil && e.Message != nil {
			return &FunctionError{Type: *e.Type, Message: *e.Message}
		}
	case http.StatusBadGateway:
		time.Sleep(50 * time.Millisecond) // let the exited bootstrap's last words reach the buffer
		msg := "the runtime exited before answering (an init failure); its output ends with:\n" + tail(f.Output(), 2048)
		if len(body) > 0 {
			msg = string(body) + "\n" + msg
		}
		return &FunctionError{Type: "Runtime.ExitError", Message: msg}
	}
	return nil
}

// InvokeAPIGatewayV2 invokes the function with an API Gateway HTTP API
// event and returns its response, failing the test when the invocation
// fails or the payload is not such a response. It waits at most the
// function timeout plus five seconds.
func (f *Function) InvokeAPIGatewayV2(t testing.TB, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), f.timeout+5*time.Second)
	defer cancel()
	payload, err := f.Invoke(ctx, req)
	if err != nil {
		t.Fatalf("%s %s?%s: %v", req.RequestContext.HTTP.Method, req.RawPath, req.RawQueryString, err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(payload, &resp); err != nil || resp.StatusCode == 0 {
		t.Fatalf("%s %s?%s: payload %q is not an API Gateway v2 response (%v)", req.RequestContext.HTTP.Method, req.RawPath, req.RawQueryString, payload, err)
	}
	return resp
}
