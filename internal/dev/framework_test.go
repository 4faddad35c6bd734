package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/labeler"
)

func TestFrameworkHost(t *testing.T) {
	tests := []struct {
		host, want string
	}{
		{"127.0.0.1", "127.0.0.1"},
		{"0.0.0.0", "0.0.0.0"},
		{"localhost", "localhost"},
		{"::1", "[::1]"},
		{"::", "[::]"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			if got := frameworkHost(tt.host); got != tt.want {
				t.Errorf("frameworkHost(%q) = %q, want %q", tt.host, got, tt.want)
			}
		})
	}
}

// envFrameworkChild makes TestFunctionsFrameworkChild run: it is the child
// process of TestFunctionsFramework.
const envFrameworkChild = "DEV_TEST_FUNCTIONS_FRAMEWORK_CHILD"

// TestFunctionsFramework runs TestFunctionsFrameworkChild in a process of
// its own: funcframework's registry and server are process-wide and its
// server cannot be stopped, so a fresh process keeps the test repeatable
// under -count and independent of the other tests.
func TestFunctionsFramework(t *testing.T) {
	child := exec.Command(os.Args[0], "-test.run=^TestFunctionsFrameworkChild$", "-test.count=1", "-test.v", "-test.timeout=3m")
	child.Env = append(os.Environ(), envFrameworkChild+"=1")
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("child process: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("--- PASS: TestFunctionsFrameworkChild")) {
		t.Fatalf("child process did not run TestFunctionsFrameworkChild:\n%s", out)
	}
	if testing.Verbose() {
		t.Logf("child process:\n%s", out)
	}
}

// TestFunctionsFrameworkChild serves the labeler through functions-framework-go:
// a bind failure in the moment the port changes hands is a clear error and
// can be retried; the labeler answers directly and through the proxy, with
// funcframework's execution ids in its logs; a second system cannot take
// funcframework; Close does not wait for funcframework's server, which
// outlives it.
func TestFunctionsFrameworkChild(t *testing.T) {
	if os.Getenv(envFrameworkChild) == "" {
		t.Skip("run by TestFunctionsFramework in a process of its own")
	}
	logs := &lockedBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	wiki := fakeWikipedia(t, nil)
	options := func() Options {
		return Options{Port: -1, DataDir: t.TempDir(), WikipediaURL: wiki, Logger: logger, FunctionsFramework: true}
	}

	// Someone takes the labeler's port between its release and funcframework's bind.
	opts := options()
	var grabbed net.Listener
	var grabbedPort int
	opts.labelerPortReleased = func(port int) {
		grabbedPort = port
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("take the released labeler port %d: %v", port, err)
			return
		}
		grabbed = ln
	}
	_, err := Run(context.Background(), opts)
	if grabbed == nil {
		t.Fatalf("the labeler's port was not released to funcframework (Run = %v)", err)
	}
	grabbed.Close()
	want := fmt.Sprintf("port %d, free a moment ago, was taken before functions-framework-go could listen on it", grabbedPort)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run with the labeler's port taken = %v, want an error containing %q", err, want)
	}

	// A retry in the same process serves.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sys, err := Run(ctx, options())
	if err != nil {
		t.Fatalf("Run after a failed bind: %v", err)
	}
	if sys.LabelerServer != "functions-framework-go" {
		t.Errorf("LabelerServer = %q, want functions-framework-go", sys.LabelerServer)
	}
	var banner bytes.Buffer
	sys.Banner(&banner)
	if !strings.Contains(banner.String(), `(the "Cloud Function", served by functions-framework-go)`) {
		t.Errorf("Banner does not say funcframework serves the labeler:\n%s", &banner)
	}

	const executionID, traceHeader = "dev-test-execution-1", "4bf92f3577b34da6a3ce929d0e0e4736/7;o=1"
	req, err := http.NewRequest(http.MethodGet, sys.LabelerURL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Function-Execution-Id", executionID)
	req.Header.Set("X-Cloud-Trace-Context", traceHeader)
	authorize(t, sys, req) // the labeler is private, behind funcframework too
	checkLabeled(t, req)
	req, err = http.NewRequest(http.MethodGet, sys.GatewayURL+"/detect", nil)
	if err != nil {
		t.Fatal(err)
	}
	checkLabeled(t, req)

	// funcframework wraps each request with its execution id (the caller's
	// or a fresh one) and trace; the labeler's lines carry them.
	var lines []map[string]any
	for deadline := time.Now().Add(5 * time.Second); len(lines) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		lines = logs.records(t, "detect", DefaultPrefix+"-labeler")
	}
	if len(lines) != 2 {
		t.Fatalf("the labeler logged %d detect lines, want 2:\n%s", len(lines), logs)
	}
	direct, proxied := lines[0], lines[1]
	for key, want := range map[string]any{"executionId": executionID, "trace": "4bf92f3577b34da6a3ce929d0e0e4736", "spanId": "7", "function": DefaultPrefix + "-labeler"} {
		if direct[key] != want {
			t.Errorf("direct request's log line %s = %v, want %q: %v", key, direct[key], want, direct)
		}
	}
	if id, _ := proxied["executionId"].(string); id == "" || id == executionID {
		t.Errorf("proxied request's log line executionId = %v, want a fresh one from funcframework: %v", proxied["executionId"], proxied)
	}

	// funcframework's own ServeMux answers an unclean path with a
	// redirect; a bare handler would label the default image.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(sys.LabelerURL + frameworkProbePath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !isRedirectToRoot(resp) {
		t.Errorf("GET %s = %d, Location %q, want funcframework's redirect to /", frameworkProbePath, resp.StatusCode, resp.Header.Get("Location"))
	}

	// funcframework is the process's: a second system cannot have it.
	_, err = Run(context.Background(), options())
	wantErr := "already served through functions-framework-go at " + strings.TrimPrefix(sys.LabelerURL, "http://")
	if err == nil || !strings.Contains(err.Error(), wantErr) {
		t.Errorf("second Run with FunctionsFramework = %v, want an error containing %q", err, wantErr)
	}

	start := time.Now()
	if err := sys.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("Close took %v, want it not to wait for funcframework", elapsed)
	}
	if err := sys.Wait(); err != nil {
		t.Errorf("Wait after Close: %v", err)
	}
	// As documented: funcframework's server outlives the system.
	conn, err := net.Dial("tcp", strings.TrimPrefix(sys.LabelerURL, "http://"))
	if err != nil {
		t.Errorf("dial the labeler after Close: %v, want funcframework still listening until the process exits", err)
	} else {
		conn.Close()
	}
}

// checkLabeled sends req and checks the offline labeler labeled the
// default image.
func checkLabeled(t *testing.T, req *http.Request) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got labeler.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Annotation == nil {
		t.Fatalf("%s %s = %d %s, want 200 and the labeler's JSON", req.Method, req.URL, resp.StatusCode, body)
	}
	if got.Engine != labeler.EngineOffline || !got.DefaultImage {
		t.Errorf("%s %s engine, defaultImage = %q, %v, want %q, true", req.Method, req.URL, got.Engine, got.DefaultImage, labeler.EngineOffline)
	}
}

// lockedBuffer collects JSON log lines from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// records returns the log records of function whose message is msg, in
// order.
func (b *lockedBuffer) records(t *testing.T, msg, function string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for line := range strings.Lines(b.String()) {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q is not JSON: %v", line, err)
		}
		if rec["msg"] == msg && rec["function"] == function {
			out = append(out, rec)
		}
	}
	return out
}
