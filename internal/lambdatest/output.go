package lambdatest

import (
	"strings"
	"sync"
	"time"
)

// Output returns what the emulator and the function wrote so far (at least
// the latest 3 MiB of it). The function's lines may reach it a moment after
// Invoke returns; see WaitOutput.
func (f *Function) Output() string {
	return f.out.String()
}

// WaitOutput waits up to wait for the output to contain substr and reports
// whether it did.
func (f *Function) WaitOutput(substr string, wait time.Duration) bool {
	deadline := time.Now().Add(wait)
	for {
		if strings.Contains(f.out.String(), substr) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// tail returns at most the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// tailBuffer is a concurrency-safe writer keeping the latest bytes written:
// past max it drops the oldest quarter, so that trimming stays cheap.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

// Write appends p, dropping old bytes when the buffer outgrows its limit.
func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if len(b.buf) > b.max {
		b.buf = append(b.buf[:0], b.buf[len(b.buf)-b.max*3/4:]...)
	}
	return len(p), nil
}

// String returns the kept bytes.
func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
