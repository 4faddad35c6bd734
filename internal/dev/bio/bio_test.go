package bio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

type source struct {
	text  string
	err   error
	calls int
}

func (s *source) Biography(ctx context.Context, name string) (string, error) {
	s.calls++
	return s.text, s.err
}

func TestFallback(t *testing.T) {
	unreachable := fmt.Errorf("wikipedia: get summary: %w", errors.New("dial tcp: connection refused"))
	tests := []struct {
		name     string
		src      *source
		want     string
		wantErr  error
		wantDown bool
	}{
		{"found", &source{text: "Mel Gibson is an actor."}, "Mel Gibson is an actor.", nil, false},
		{"none", &source{err: sleuth.ErrNoBiography}, "", sleuth.ErrNoBiography, false},
		{"unreachable", &source{err: unreachable}, OfflineLine, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := time.Unix(1_700_000_000, 0)
			f := NewFallback(tt.src, time.Minute, func() time.Time { return now }, slog.New(slog.DiscardHandler))
			got, err := f.Biography(context.Background(), "Mel Gibson")
			if got != tt.want || !errors.Is(err, tt.wantErr) {
				t.Fatalf("Biography(%q) = %q, %v, want %q, %v", "Mel Gibson", got, err, tt.want, tt.wantErr)
			}
			// During the cooldown an unreachable source is not asked again.
			f.Biography(context.Background(), "Mel Gibson")
			wantCalls := 2
			if tt.wantDown {
				wantCalls = 1
			}
			if tt.src.calls != wantCalls {
				t.Errorf("source asked %d times, want %d", tt.src.calls, wantCalls)
			}
			now = now.Add(time.Minute + time.Second)
			f.Biography(context.Background(), "Mel Gibson")
			if tt.src.calls != wantCalls+1 {
				t.Errorf("after the cooldown the source was asked %d times, want %d", tt.src.calls, wantCalls+1)
			}
		})
	}
}

func TestFallbackKeepsCallerCancellation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	f := NewFallback(&source{err: context.Canceled}, 0, nil, slog.New(slog.DiscardHandler))
	if _, err := f.Biography(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Biography with a canceled context = %v, want context.Canceled", err)
	}
	if got, err := NewFallback(nil, 0, nil, slog.New(slog.DiscardHandler)).Biography(context.Background(), "x"); got != OfflineLine || err != nil {
		t.Errorf("Biography without a source = %q, %v, want OfflineLine", got, err)
	}
}
