package lambdatest

import (
	"errors"
	"fmt"
)

// BootstrapPeakRSS returns the peak resident set size, in bytes, of the
// function's bootstrap process (the kernel's VmHWM): the memory a Lambda
// of the same code would need. It fails when no bootstrap runs (before the
// first invocation, or after it exited).
func (f *Function) BootstrapPeakRSS() (int64, error) {
	pids := childPIDs(f.cmd.Process.Pid)
	if len(pids) == 0 {
		return 0, errors.New("no bootstrap process is running")
	}
	var peak int64
	for _, pid := range pids {
		rss, err := peakRSS(pid)
		if err != nil {
			return 0, fmt.Errorf("peak RSS of process %d: %w", pid, err)
		}
		peak = max(peak, rss)
	}
	return peak, nil
}

// KillBootstrap kills the function's bootstrap process with SIGKILL, as a
// crash or an out-of-memory kill ends it in Lambda: an invocation in
// flight fails, and the emulator starts a new bootstrap (a cold start) for
// the next one. It reports how many processes it killed.
func (f *Function) KillBootstrap() int {
	pids := childPIDs(f.cmd.Process.Pid)
	for _, pid := range pids {
		killPID(pid)
	}
	return len(pids)
}
