// Package leakcheck fails a test that leaves goroutines running or file
// descriptors (files, sockets) open behind it.
package leakcheck

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// settle is how long Check waits for goroutines and descriptors to go
// away: connections close and their goroutines return asynchronously.
var settle = 5 * time.Second

// Check records the goroutines and open descriptors of the process now
// and, when the test and all its cleanups registered after this call have
// run, fails it if new goroutines still run or more descriptors are open,
// listing the goroutines' stacks. Call it first in a test, before starting
// anything. It must not be used in parallel tests (their goroutines would
// be counted).
func Check(t testing.TB) {
	t.Helper()
	before := goroutines()
	fds := openFDs()
	t.Cleanup(func() {
		deadline := time.Now().Add(settle)
		for {
			extra := newer(before, goroutines())
			n := openFDs()
			if len(extra) == 0 && n <= fds {
				return
			}
			if time.Now().After(deadline) {
				if len(extra) > 0 {
					t.Errorf("leakcheck: %d goroutines still running after the test:\n\n%s", len(extra), strings.Join(extra, "\n\n"))
				}
				if n > fds {
					t.Errorf("leakcheck: %d file descriptors open after the test, %d before:\n%s", n, fds, fdList())
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// goroutines returns the stacks of all goroutines by their header line
// ("goroutine 12 [running]:" without the state).
func goroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		head, _, _ := strings.Cut(string(g), " [")
		out[head] = string(g)
	}
	return out
}

// newer returns the stacks of the goroutines in after but not before,
// leaving out the runtime's and the testing package's own.
func newer(before, after map[string]string) []string {
	var extra []string
	for id, stack := range after {
		if _, ok := before[id]; ok {
			continue
		}
		if strings.Contains(stack, "\ncreated by testing.") {
			continue // subtests and the testing package's timers
		}
		extra = append(extra, stack)
	}
	return extra
}

// openFDs counts the process's open file descriptors (Linux), or returns
// 0 where /proc is missing.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0
	}
	return len(entries)
}

// fdList names what the open descriptors are.
func fdList() string {
	entries, _ := os.ReadDir("/proc/self/fd")
	var b strings.Builder
	for _, e := range entries {
		target, _ := os.Readlink("/proc/self/fd/" + e.Name())
		b.WriteString("  " + e.Name() + " -> " + target + "\n")
	}
	return b.String()
}
