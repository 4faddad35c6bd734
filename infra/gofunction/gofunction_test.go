package gofunction

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckRuntime(t *testing.T) {
	tests := []struct {
		name, runtime, goLine, wantErr string
	}{
		{"same version", "go126", "go 1.26", ""},
		{"patch release", "go126", "go 1.26.6", ""},
		{"newer runtime", "go127", "go 1.26", ""},
		{"older runtime", "go125", "go 1.26.6", "older than the go 1.26.6"},
		{"not a go runtime", "nodejs20", "go 1.26", "not a Go runtime id"},
		{"no go directive", "go126", "", "no go directive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gomod := filepath.Join(t.TempDir(), "go.mod")
			if err := os.WriteFile(gomod, []byte("module m\n\n"+tt.goLine+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			err := CheckRuntime(tt.runtime, gomod)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("CheckRuntime(%q, go.mod with %q) = %v, want an error containing %q", tt.runtime, tt.goLine, err, tt.wantErr)
			}
		})
	}
}
