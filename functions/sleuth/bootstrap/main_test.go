package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// TestNewHandlerRefuses checks the handler names the binary does not serve;
// the ones it serves are run under the emulator by package worker.
func TestNewHandlerRefuses(t *testing.T) {
	tests := []struct {
		name    string
		handler string
		want    string
	}{
		{"request", sleuth.HandlerRequest, `handler "request" is not in this binary: deploy the sleuth-request artifact`},
		{"unknown", "nope", `unknown handler "nope" in _HANDLER`},
		{"empty", "", `unknown handler "" in _HANDLER`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := newHandler(context.Background(), tt.handler, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("newHandler(%q) = %v, %v, want an error containing %q", tt.handler, h, err, tt.want)
			}
		})
	}
}
