// Package lambdatest runs Lambda functions in tests the way AWS runs them:
// the function's main package is built for real, with the release flags of
// package build (for the host's GOOS/GOARCH), and run as a bootstrap under
// the AWS Lambda Runtime Interface Emulator (RIE), the `aws-lambda-rie` tool
// of go.mod. Tests invoke it over the emulator's HTTP API with real event
// payloads and get back what Lambda would return.
//
// A typical test:
//
//	fn := lambdatest.Start(t, lambdatest.Options{
//		Package: "./functions/proxy/bootstrap",
//		Env:     map[string]string{"LABELER_URL": labeler.URL},
//	})
//	resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent("GET", "/detect", "imageUri=gs://b/o.jpg", nil, ""))
//
// Each package is built at most once per test process, and the emulator
// binary is located once. Everything listens on 127.0.0.1 only. The
// emulator and the function are stopped when the test ends, and their
// combined output (the emulator's log, the function's stdout and stderr) is
// written to the test log if the test failed.
//
// The emulator runs on Linux only; on other systems Start skips the test.
// Start also skips in -short mode, where building and running bootstraps
// would cost seconds.
package lambdatest

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultTimeout is the function timeout when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Options describes the function to run.
type Options struct {
	// Package is the function's main package as go build takes it relative
	// to the repository root, e.g. "./functions/proxy/bootstrap". Required.
	Package string
	// Env is the function's environment configuration, as the stack would
	// set it. It is applied over the defaults listed in Start.
	Env map[string]string
	// Handler is the function's handler setting, which the bootstrap sees as
	// _HANDLER. "" means "bootstrap".
	Handler string
	// Timeout is the function timeout, rounded up to whole seconds as
	// Lambda's setting is; each invocation's deadline is this far ahead.
	// Zero means DefaultTimeout.
	Timeout time.Duration
	// Name is the function name (AWS_LAMBDA_FUNCTION_NAME). "" means the
	// package's last path element, or the one before it when that is
	// "bootstrap".
	Name string
}

// Function is a function running under the emulator. Its methods are safe
// for concurrent use; invocations run one at a time, as in one Lambda
// execution environment.
type Function struct {
	// URL is the emulator's invocation endpoint.
	URL string

	name    string
	timeout time.Duration
	cmd     *exec.Cmd
	out     *tailBuffer
	exited  chan struct{} // closed when the emulator process has exited
	client  *http.Client

	invokeMu sync.Mutex
	stopOnce sync.Once
}

// Start builds opts.Package, starts it under the emulator and returns once
// the emulator accepts invocations; the bootstrap itself starts on the first
// invocation, as Lambda's cold start does. Start fails the test when the
// function cannot be built or the emulator does not come up.
//
// The function's environment is minimal and offline, not the test's: PATH,
// TMPDIR (a directory of its own), AWS_REGION and AWS_DEFAULT_REGION
// "us-east-1", placeholder credentials (AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, as Lambda provides a role's),
// AWS_EC2_METADATA_DISABLED "true" (so an SDK never looks for the instance
// metadata service), AWS_LAMBDA_FUNCTION_NAME, AWS_LAMBDA_FUNCTION_TIMEOUT,
// AWS_LAMBDA_FUNCTION_MEMORY_SIZE "128" and _HANDLER, then opts.Env. The
// emulator adds the runtime's own variables (AWS_LAMBDA_RUNTIME_API,
// AWS_LAMBDA_LOG_GROUP_NAME, ...). Set AWS_LAMBDA_LOG_FORMAT to "JSON" in
// opts.Env for JSON logs from lambdacontext.NewLogger, as the stack does.
func Start(t testing.TB, opts Options) *Function {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("lambdatest: the Lambda Runtime Interface Emulator runs on Linux only, not %s", runtime.GOOS)
	}
	if testing.Short() {
		t.Skip("lambdatest: -short: not building and running Lambda bootstraps")
	}
	if opts.Package == "" {
		t.Fatal("lambdatest.Start: Options.Package is empty")
	}
	bootstrap := Build(t, opts.Package)
	rie := emulator(t)

	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	seconds := int((timeout + time.Second - 1) / time.Second)
	name := opts.Name
	if name == "" {
		name = defaultName(opts.Package)
	}
	handler := opts.Handler
	if handler == "" {
		handler = "bootstrap"
	}
	env := map[string]string{
		"PATH":                            os.Getenv("PATH"),
		"TMPDIR":                          t.TempDir(),
		"AWS_REGION":                      "us-east-1",
		"AWS_DEFAULT_REGION":              "us-east-1",
		"AWS_ACCESS_KEY_ID":               "ASIALAMBDATEST000000",
		"AWS_SECRET_ACCESS_KEY":           "lambdatest-secret-access-key",
		"AWS_SESSION_TOKEN":               "lambdatest-session-token",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     strconv.Itoa(seconds),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"_HANDLER":                        handler,
	}
	maps.Copy(env, opts.Env)

	var lastErr error
	for range 3 { // a free port can be taken between finding and binding it
		f, err := launch(rie, bootstrap, env, name, time.Duration(seconds)*time.Second)
		if err == nil {
			t.Cleanup(func() {
				f.Close()
				if t.Failed() {
					t.Logf("lambdatest: output of %s under the Lambda emulator:\n%s", f.name, f.Output())
				}
			})
			return f
		}
		lastErr = err
		if !errors.Is(err, errAddrInUse) {
			break
		}
	}
	t.Fatalf("lambdatest: start %s: %v", name, lastErr)
	return nil
}

// defaultName derives a function name from a package path.
func defaultName(pkg string) string {
	pkg = strings.TrimRight(path.Clean(filepath.ToSlash(pkg)), "/")
	name := path.Base(pkg)
	if name == "bootstrap" || name == "." {
		name = path.Base(path.Dir(pkg))
	}
	if name == "." || name == "/" || name == "" {
		name = "function"
	}
	return name
}

// errAddrInUse marks a start that lost a race for a port.
var errAddrInUse = errors.New("address already in use")

// launch starts the emulator on fresh loopback ports and waits until it
// accepts connections.
func launch(rie, bootstrap string, env map[string]string, name string, timeout time.Duration) (*Function, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	runtimeAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(rie,
		"--runtime-interface-emulator-address="+invokeAddr,
		"--runtime-api-address="+runtimeAddr,
		"--log-level=info",
		bootstrap)
	// The emulator runs the bootstrap in the working directory, like
	// LAMBDA_TASK_ROOT.
	cmd.Dir = filepath.Dir(bootstrap)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := newTailBuffer(4 << 20)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	// The bootstrap inherits the output pipes; don't wait on it forever if
	// it outlives the emulator.
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s: %w", rie, err)
	}
	f := &Function{
		URL:     "http://" + invokeAddr + invokePath,
		name:    name,
		timeout: timeout,
		cmd:     cmd,
		out:     out,
		exited:  make(chan struct{}),
		client: &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 4,
			DisableCompression:  true,
		}},
	}
	go func() {
		cmd.Wait()
		close(f.exited)
	}()
	if err := f.waitReady(invokeAddr, 15*time.Second); err != nil {
		f.Close()
		if strings.Contains(out.String(), "address already in use") {
			return nil, fmt.Errorf("%w: %v", errAddrInUse, err)
		}
		return nil, fmt.Errorf("%w\nemulator output:\n%s", err, out.String())
	}
	return f, nil
}

// freeAddr returns a loopback address with a port free at the time of the
// call.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// waitReady polls addr until the emulator accepts a connection, exits or
// the wait times out.
func (f *Function) waitReady(addr string, wait time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		conn, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			conn.Close()
			return nil
		}
		select {
		case <-f.exited:
			return fmt.Errorf("emulator exited before listening on %s: %v", addr, f.cmd.ProcessState)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("emulator not listening on %s after %v", addr, wait)
		}
	}
}

// Close stops the emulator and the function's bootstrap; it is called when
// the test ends, and calling it again does nothing. The emulator gets
// SIGTERM, on which it stops the bootstrap and exits; whatever is left of
// either after a few seconds is killed.
func (f *Function) Close() {
	f.stopOnce.Do(func() {
		// The emulator starts the bootstrap in a process group of its own;
		// note it before the emulator goes and it is re-parented.
		children := childPIDs(f.cmd.Process.Pid)
		terminate(f.cmd.Process)
		select {
		case <-f.exited:
		case <-time.After(5 * time.Second):
			killGroup(f.cmd.Process.Pid)
			<-f.exited
		}
		for _, pid := range children {
			killGroup(pid)
		}
		f.client.CloseIdleConnections()
	})
}
