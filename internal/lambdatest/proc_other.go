//go:build !linux

package lambdatest

import (
	"os"
	"syscall"
)

// The emulator runs on Linux only and Start skips elsewhere; these keep the
// package compiling for tests that import it on other systems.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func terminate(p *os.Process) { _ = p.Kill() }

func killGroup(int) {}

func childPIDs(int) []int { return nil }

func peakRSS(int) (int64, error) { return 0, os.ErrNotExist }

func killPID(int) {}
