package bio

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
		{"unreachable", &source{err: unreachable}, UnreachableLine, nil, true},
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
	if got, err := NewFallback(nil, 0, nil, slog.New(slog.DiscardHandler)).Biography(context.Background(), "x"); got != UnreachableLine || err != nil {
		t.Errorf("Biography without a source = %q, %v, want UnreachableLine", got, err)
	}
}

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, LocalFileName)
	next := &source{text: "From the next source."}
	tests := []struct {
		name    string
		file    string // "" for no file
		next    sleuth.Biographies
		want    string
		wantErr string
	}{
		{"no file", "", nil, OfflineLine, ""},
		{"known name", `{"Mel Gibson": "Mel Gibson is an actor."}`, nil, "Mel Gibson is an actor.", ""},
		{"name in another case", `{" mel gibson ": "Mel Gibson is an actor."}`, nil, "Mel Gibson is an actor.", ""},
		{"unknown name", `{"Someone Else": "x"}`, nil, OfflineLine, ""},
		{"empty biography", `{"Mel Gibson": " "}`, nil, OfflineLine, ""},
		{"unknown name, next source", `{}`, next, "From the next source.", ""},
		{"known name before the next source", `{"Mel Gibson": "Local."}`, next, "Local.", ""},
		{"damaged file", `["not", "an object"]`, nil, "", LocalFileName + " is not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(path)
			if tt.file != "" {
				if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			got, err := NewLocal(path, tt.next).Biography(context.Background(), "Mel Gibson")
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Biography() error = %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr == "" && (err != nil || got != tt.want):
				t.Errorf("Biography() = %q, %v, want %q", got, err, tt.want)
			}
		})
	}
}
