package bus

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
)

// TestInvokeAsync: a failing function is retried, then dead-lettered with
// its source; a succeeding one reports nil.
func TestInvokeAsync(t *testing.T) {
	b := New(Config{RetryDelays: []time.Duration{time.Millisecond, time.Millisecond}}, slog.New(slog.DiscardHandler))
	var calls atomic.Int32
	failing := lambdaemu.NewFunction("inspector", func(context.Context, map[string]any) error {
		calls.Add(1)
		return errors.New("labeler down")
	}, time.Second)
	done := make(chan error, 1)
	if err := b.InvokeAsync("arn:aws:s3:::uploads", "the upload incoming/a.jpg", failing, []byte(`{"Records":[]}`), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil || calls.Load() != 3 {
		t.Errorf("done(%v) after %d calls, want the error after 3", err, calls.Load())
	}
	dead := b.DeadLetters()
	if len(dead) != 1 || dead[0].TopicARN != "arn:aws:s3:::uploads" || dead[0].Attempts != 3 || dead[0].Error != "labeler down" || string(dead[0].Payload) != `{"Records":[]}` ||
		!strings.HasPrefix(dead[0].Summary, "inspector gave up on the upload incoming/a.jpg after 3 attempts: labeler down") {
		t.Errorf("dead letters = %+v", dead)
	}
	ok := lambdaemu.NewFunction("inspector", func(context.Context, map[string]any) error { return nil }, time.Second)
	if err := b.InvokeAsync("arn:aws:s3:::uploads", "the upload incoming/b.jpg", ok, []byte(`{}`), func(err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("done(%v), want nil", err)
	}
	if err := b.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.InvokeAsync("x", "", ok, []byte(`{}`), nil); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
