package lambdatest

import (
	"os"
	"strconv"
	"strings"
	"syscall"
)

// sysProcAttr puts the emulator in a process group of its own, so that it
// can be killed with whatever it started in that group, and has the kernel
// kill it if the test process dies without cleaning up (a test timeout's
// panic, a SIGKILL) so that no emulator is left holding a port.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// terminate asks the process to stop.
func terminate(p *os.Process) {
	_ = p.Signal(syscall.SIGTERM)
}

// killGroup kills the process group led by pid; a group already gone is no
// error.
func killGroup(pid int) {
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

// childPIDs returns the processes whose parent is pid, read from /proc.
func childPIDs(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var children []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and
		// may itself hold spaces and parentheses: state, ppid, ...
		s := string(stat)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(fields) > 1 && fields[1] == strconv.Itoa(pid) {
			children = append(children, child)
		}
	}
	return children
}

// peakRSS returns the peak resident set size of process pid (VmHWM in
// /proc/<pid>/status), in bytes.
func peakRSS(pid int) (int64, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, os.ErrNotExist
}

// killPID kills process pid.
func killPID(pid int) { _ = syscall.Kill(pid, syscall.SIGKILL) }
