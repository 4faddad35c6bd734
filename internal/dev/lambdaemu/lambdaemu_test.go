package lambdaemu

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

type input struct {
	N int `json:"n"`
}

type badInput struct{}

func (badInput) Error() string { return "bad input" }

func TestInvoke(t *testing.T) {
	tests := []struct {
		name        string
		handler     any
		timeout     time.Duration
		payload     string
		want        string
		wantType    string // errorType of a function error
		wantMessage string
		unhandled   bool
	}{
		{"value", func(in input) (input, error) { return input{in.N * 2}, nil }, 0, `{"n":21}`, `{"n":42}`, "", "", false},
		{"no result", func(context.Context, input) error { return nil }, 0, `{"n":1}`, "null", "", "", false},
		{"returned error", func() error { return badInput{} }, 0, `{}`, "", "badInput", "bad input", false},
		{"pointer error", func() error { return errPointer }, 0, `{}`, "", "pointerErr", "pointer", false},
		{"panic", func() error { panic("kaboom") }, 0, `{}`, "", "string", "kaboom", true},
		{"timeout", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, 20 * time.Millisecond, `{}`, "", "Sandbox.Timedout", "Task timed out after 0.02 seconds", true},
		{"bad event", func(in input) error { return nil }, 0, `{"n":"x"}`, "", "UnmarshalTypeError", "cannot unmarshal", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := NewFunction("fn", tt.handler, tt.timeout)
			out, err := fn.Invoke(context.Background(), "", []byte(tt.payload), MaxSyncPayload)
			if tt.wantType == "" {
				if err != nil || strings.TrimSpace(string(out)) != tt.want {
					t.Fatalf("Invoke(%s) = %s, %v, want %s", tt.payload, out, err, tt.want)
				}
				return
			}
			var fnErr *Error
			if !errors.As(err, &fnErr) {
				t.Fatalf("Invoke(%s) = %s, %v, want a function error", tt.payload, out, err)
			}
			if fnErr.Type != tt.wantType || !strings.Contains(fnErr.Message, tt.wantMessage) || fnErr.Unhandled != tt.unhandled {
				t.Errorf("Invoke(%s) error = %+v, want type %q, message %q, unhandled %v", tt.payload, fnErr, tt.wantType, tt.wantMessage, tt.unhandled)
			}
		})
	}
}

type pointerErr struct{}

func (*pointerErr) Error() string { return "pointer" }

var errPointer error = &pointerErr{}

func TestInvokeContext(t *testing.T) {
	var got *lambdacontext.LambdaContext
	var deadline time.Time
	fn := NewFunction("crossfaas-dev-match", func(ctx context.Context) error {
		got, _ = lambdacontext.FromContext(ctx)
		deadline, _ = ctx.Deadline()
		return nil
	}, time.Minute)
	if _, err := fn.Invoke(context.Background(), "req-1", []byte(`{}`), MaxSyncPayload); err != nil {
		t.Fatal(err)
	}
	if got == nil || got.AwsRequestID != "req-1" || got.InvokedFunctionArn != "arn:aws:lambda:local:000000000000:function:crossfaas-dev-match" {
		t.Errorf("lambda context = %+v", got)
	}
	if left := time.Until(deadline); left < 50*time.Second || left > time.Minute {
		t.Errorf("deadline in %v, want about the function's timeout (1m)", left)
	}
}

func TestInvokeLimitsAndCancel(t *testing.T) {
	fn := NewFunction("fn", func(ctx context.Context) (string, error) { return strings.Repeat("x", 100), nil }, time.Second)
	if _, err := fn.Invoke(context.Background(), "", make([]byte, 11), 10); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("Invoke of an oversized event = %v, want ErrPayloadTooLarge", err)
	}
	var fnErr *Error
	if _, err := fn.Invoke(context.Background(), "", []byte(`{}`), 50); !errors.As(err, &fnErr) || fnErr.Type != "Function.ResponseSizeTooLarge" {
		t.Errorf("Invoke with an oversized response = %v, want Function.ResponseSizeTooLarge", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow := NewFunction("slow", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, time.Minute)
	if _, err := slow.Invoke(ctx, "", []byte(`{}`), MaxSyncPayload); !errors.Is(err, context.Canceled) || errors.As(err, &fnErr) {
		t.Errorf("Invoke by a caller that gave up = %v, want context.Canceled, not a function error", err)
	}
}

// TestConcurrentInvocations: invocations of one function run in parallel
// and never see each other's results.
func TestConcurrentInvocations(t *testing.T) {
	fn := NewFunction("echo", func(in input) (input, error) { return in, nil }, time.Second)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			out, err := fn.Invoke(context.Background(), "", fmt.Appendf(nil, `{"n":%d}`, i), MaxSyncPayload)
			if want := fmt.Sprintf(`{"n":%d}`, i); err != nil || strings.TrimSpace(string(out)) != want {
				t.Errorf("Invoke #%d = %s, %v, want %s", i, out, err, want)
			}
		})
	}
	wg.Wait()
}

func TestNewUUID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewUUID()
		if len(id) != 36 || id[14] != '4' || !strings.ContainsRune("89ab", rune(id[19])) || seen[id] {
			t.Fatalf("NewUUID() = %q, want a fresh version 4 UUID", id)
		}
		seen[id] = true
	}
}
