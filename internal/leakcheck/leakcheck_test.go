package leakcheck

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// recorder is a testing.TB that keeps its cleanups and errors.
type recorder struct {
	testing.TB
	cleanups []func()
	errors   []string
}

func (r *recorder) Helper()          {}
func (r *recorder) Cleanup(f func()) { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) finish() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func TestCheck(t *testing.T) {
	settle = 300 * time.Millisecond // the leaks below never go away
	defer func() { settle = 5 * time.Second }()
	tests := []struct {
		name string
		// run does the test's work and returns what releases it.
		run  func(t *testing.T) func()
		want string
	}{
		{"nothing", func(*testing.T) func() { return func() {} }, ""},
		{"a goroutine that returns", func(*testing.T) func() {
			done := make(chan struct{})
			go func() { <-done }()
			return func() { close(done) }
		}, ""},
		{"a goroutine left running", func(*testing.T) func() {
			stop := make(chan struct{})
			go blockedForever(stop)
			t.Cleanup(func() { close(stop) })
			return func() {}
		}, "blockedForever"},
		{"a file left open", func(t *testing.T) func() {
			f, err := os.Create(filepath.Join(t.TempDir(), "left-open"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return func() {}
		}, "left-open"},
		{"a listener closed", func(t *testing.T) func() {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			return func() { ln.Close() }
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			Check(r)
			release := tt.run(t)
			r.Cleanup(release)
			r.finish()
			got := strings.Join(r.errors, "\n")
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("Check's errors = %q, want %q", got, tt.want)
			}
		})
	}
}

func blockedForever(stop chan struct{}) { <-stop }
