// Package lambdaemu runs Lambda handlers in-process the way the Go runtime
// runs them in AWS: the event travels as JSON bytes through aws-lambda-go's
// own reflection adapter (lambda.NewHandler), the context carries a
// lambdacontext.LambdaContext with a fresh request id and the function's
// ARN, a deadline stands for the function timeout, and errors and panics
// come back as the runtime's errorMessage/errorType pair.
//
// It is what the dev gateway (synchronous invokes from API Gateway) and the
// dev bus (asynchronous invokes from SNS) share.
package lambdaemu

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Defaults of the local "account"; ARNs built with them look like real ones
// so handlers that log or parse them behave as in the cloud.
const (
	Region    = "local"
	AccountID = "000000000000"
)

// MaxSyncPayload is Lambda's limit, in bytes, on a synchronous invocation's
// request and response (6 MB).
const MaxSyncPayload = 6 * 1024 * 1024

// MaxAsyncPayload is Lambda's limit, in bytes, on an asynchronous
// invocation's event (1 MB since 2025; SNS messages are far smaller).
const MaxAsyncPayload = 1024 * 1024

// Function is one Lambda function served in-process.
type Function struct {
	name    string
	arn     string
	handler any
	timeout time.Duration
}

// NewFunction wraps handler, a function with any signature lambda.Start
// accepts (or a lambda.Handler), as the function called name. timeout is
// the function's configured timeout; zero means 30 seconds.
func NewFunction(name string, handler any, timeout time.Duration) *Function {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return &Function{
		name:    name,
		arn:     FunctionARN(name),
		handler: handler,
		timeout: timeout,
	}
}

// FunctionARN returns the ARN of the local function called name.
func FunctionARN(name string) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", Region, AccountID, name)
}

// Name returns the function's name.
func (f *Function) Name() string { return f.name }

// ARN returns the function's ARN.
func (f *Function) ARN() string { return f.arn }

// Error is a function error as the Lambda runtime reports it: the handler
// returned an error, panicked or timed out.
type Error struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
	// Unhandled is true for panics and timeouts, the runtime's
	// "Unhandled" function errors; false for errors the handler returned.
	Unhandled bool `json:"-"`
	// Stack is the goroutine's stack at a panic, for the log.
	Stack string `json:"-"`
}

func (e *Error) Error() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Type + ": " + e.Message
}

// Invoke runs the handler on payload (a JSON event) and returns its JSON
// response. requestID becomes the invocation's AwsRequestID (a random UUID
// when empty). A handler error, panic or timeout comes back as *Error; an
// oversized payload as a plain error (the invoke API refuses it before the
// function runs).
func (f *Function) Invoke(ctx context.Context, requestID string, payload []byte, maxPayload int) ([]byte, error) {
	if len(payload) > maxPayload {
		return nil, fmt.Errorf("invoke %s: request payload of %d bytes exceeds the limit of %d: %w", f.name, len(payload), maxPayload, ErrPayloadTooLarge)
	}
	if requestID == "" {
		requestID = NewUUID()
	}
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       requestID,
		InvokedFunctionArn: f.arn,
	})
	ctx, cancel := context.WithTimeoutCause(ctx, f.timeout, errFunctionTimeout)
	defer cancel()

	type result struct {
		out []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() {
			if p := recover(); p != nil {
				r = result{err: &Error{Message: fmt.Sprint(p), Type: panicType(p), Unhandled: true, Stack: string(debug.Stack())}}
			}
			done <- r
		}()
		// A lambda.Handler per invocation: its Invoke returns bytes of a
		// pooled buffer that it has already put back in its pool, so two
		// invocations sharing one handler would race on them.
		out, err := lambda.NewHandler(f.handler).Invoke(ctx, payload)
		r = result{out: append([]byte(nil), out...), err: err}
	}()

	select {
	case r := <-done:
		if r.err != nil {
			return nil, asError(r.err)
		}
		if len(r.out) > maxPayload {
			return nil, &Error{
				Message: fmt.Sprintf("Response payload size (%d bytes) exceeded maximum allowed payload size (%d bytes).", len(r.out), maxPayload),
				Type:    "Function.ResponseSizeTooLarge",
			}
		}
		return r.out, nil
	case <-ctx.Done():
		if errors.Is(context.Cause(ctx), errFunctionTimeout) {
			return nil, &Error{
				Message:   fmt.Sprintf("Task timed out after %.2f seconds", f.timeout.Seconds()),
				Type:      "Sandbox.Timedout",
				Unhandled: true,
			}
		}
		return nil, fmt.Errorf("invoke %s: %w", f.name, ctx.Err())
	}
}

// errFunctionTimeout is the cause of the invocation context's end when the
// function's own timeout strikes (rather than the caller giving up).
var errFunctionTimeout = errors.New("function timeout")

// ErrPayloadTooLarge is wrapped by Invoke when the event exceeds the
// invocation payload limit.
var ErrPayloadTooLarge = errors.New("payload too large")

// asError converts a handler's error into the runtime's report of it: the
// message and the name of the error's type.
func asError(err error) *Error {
	if e, ok := err.(*Error); ok { // a panic, already reported
		return e
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return &Error{Message: err.Error(), Type: t.Name()}
}

func panicType(p any) string {
	t := reflect.TypeOf(p)
	if t == nil {
		return "panic"
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// NewUUID returns a random version 4 UUID, the shape of Lambda request ids
// and SNS message ids.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
