package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/internal/dev"
	"github.com/crossfaas/crossfaas/internal/offline/faces"
)

func TestDevFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string // "" for flag.ErrHelp
	}{
		{"help", []string{"-h"}, ""},
		{"port too large", []string{"--port", "65535"}, "--port 65535 is not a port number"},
		{"negative port", []string{"--port", "-1"}, "--port -1 is not a port number"},
		{"threshold", []string{"--threshold", "101"}, "--threshold 101 is not between 0 and 100"},
		{"prefix upper-case", []string{"--prefix", "Crossfaas-Dev"}, `--prefix "Crossfaas-Dev" must be`},
		{"prefix underscore", []string{"--prefix", "my_app"}, `--prefix "my_app" must be`},
		{"prefix empty", []string{"--prefix", ""}, `--prefix "" must be`},
		{"prefix too long", []string{"--prefix", strings.Repeat("a", 41)}, "must be 1 to 40"},
		{"labeler access", []string{"--labeler-access", "open"}, `--labeler-access "open": use private or public`},
		{"log format", []string{"--log-format", "xml"}, `--log-format "xml" is not human or json`},
		{"argument", []string{"extra"}, `unexpected argument "extra"`},
		{"undefined flag", []string{"--bogus"}, "flag provided but not defined: -bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runDev(t.Context(), tt.args, &stdout, &stderr)
			switch {
			case tt.wantErr == "" && !errors.Is(err, flag.ErrHelp):
				t.Errorf("runDev(%q) = %v, want flag.ErrHelp", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("runDev(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if stderr.Len() != 0 {
				t.Errorf("runDev(%q) stderr = %q, want nothing (run prints the error)", tt.args, &stderr)
			}
			if tt.wantErr == "" && !strings.Contains(stdout.String(), "-duplicate-deliveries") {
				t.Errorf("runDev(-h) stdout = %q, want the flags", &stdout)
			}
		})
	}
}

func TestDevPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"dev", "--port", fmt.Sprint(port), "--data", t.TempDir()}, &stdout, &stderr)
	want := fmt.Sprintf("port %d is in use; pass --port", port)
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Errorf("crossfaas dev on a taken port = %d, stderr %q, want 1 and %q", code, &stderr, want)
	}
}

// TestDevErrorReadsOnce: a failed start prints one line, the error, with
// "crossfaas dev:" once and no log record before it.
func TestDevErrorReadsOnce(t *testing.T) {
	dir := t.TempDir()
	db, err := faces.Open(dir) // another crossfaas dev holds the data directory
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"dev", "--port", "0", "--data", dir}, &stdout, &stderr)
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	if code != 1 || len(lines) != 1 || !strings.HasPrefix(lines[0], "crossfaas dev: faces: open ") || !strings.Contains(lines[0], "locked by another process") {
		t.Fatalf("crossfaas dev with a locked data directory = %d, stderr %q, want 1 and one line naming the lock", code, &stderr)
	}
	if strings.Count(lines[0], "dev:") != 1 {
		t.Errorf("error line %q stutters: want \"dev:\" once", lines[0])
	}
	if stdout.Len() != 0 {
		t.Errorf("crossfaas dev with a locked data directory printed %q to stdout, want nothing", &stdout)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// envRunMain makes the test binary run crossfaas's main instead of the
// tests (see TestMain): the child process of TestDevRunsUntilInterrupted is
// the real command, signal handling and exit status included.
const envRunMain = "CROSSFAAS_TEST_RUN_MAIN"

// helperMode, if set by a platform's test file, runs the test binary as a
// helper process instead of the tests when it returns true, exiting with
// the status it gives (see nonet_linux_test.go).
var helperMode func() (code int, ok bool)

func TestMain(m *testing.M) {
	if os.Getenv(envRunMain) == "1" {
		main() // exits
	}
	if helperMode != nil {
		if code, ok := helperMode(); ok {
			os.Exit(code)
		}
	}
	os.Exit(m.Run())
}

// freeBasePort returns a port p such that p and the next dev.Ports-1 ports
// are free on 127.0.0.1, for `crossfaas dev --port p`.
func freeBasePort(t *testing.T) int {
	t.Helper()
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen: %v", err)
		}
		base := ln.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{ln}
		free := base+dev.Ports-1 <= 65535
		for i := 1; free && i < dev.Ports; i++ {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", base+i))
			if err != nil {
				free = false
				break
			}
			lns = append(lns, l)
		}
		for _, l := range lns {
			l.Close()
		}
		if free {
			return base
		}
	}
	t.Fatalf("found no %d consecutive free ports", dev.Ports)
	return 0
}

// TestDevRunsUntilInterrupted runs the real `crossfaas dev` in a child
// process on a free base port, checks the banner's URLs answer, that the
// labeler answers directly and through the gateway and the proxy, served by
// functions-framework-go, and stops it with SIGINT as Ctrl-C would. A child
// process because funcframework's server cannot be stopped and lives until
// the process exits.
func TestDevRunsUntilInterrupted(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("stops the command with SIGINT, which Windows cannot send")
	}
	base := freeBasePort(t)
	var stdout, stderr syncBuffer
	// A public labeler, to call it directly with an execution id; the
	// private link is tested in internal/dev.
	child := exec.Command(os.Args[0], "dev", "--port", strconv.Itoa(base), "--data", t.TempDir(), "--labeler-access", "public", "--log-format", "json")
	child.Env = append(os.Environ(), envRunMain+"=1")
	child.Stdout, child.Stderr = &stdout, &stderr
	if err := child.Start(); err != nil {
		t.Fatalf("start crossfaas dev: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			child.Process.Kill()
			<-exited
		}
	})

	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stdout.String(), "Ctrl-C stops everything.") {
		select {
		case err := <-exited:
			stopped = true
			t.Fatalf("crossfaas dev stopped early: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner after 60s; stdout %q\nstderr: %s", stdout.String(), stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	banner := stdout.String()
	urlAfter := func(label string) string {
		m := regexp.MustCompile(regexp.QuoteMeta(label) + `\s+(?:GET\s+)?(http://[^/\s]+)`).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("banner lacks the %s URL:\n%s", label, banner)
		}
		return m[1]
	}
	gatewayURL, phoneURL, labelerURL := urlAfter("API (gateway)"), urlAfter("Phone simulator"), urlAfter("Labeler")
	for _, tt := range []struct {
		name, got string
		port      int
	}{
		{"gateway", gatewayURL, base}, {"phone simulator", phoneURL, base + 1}, {"labeler", labelerURL, base + 2},
	} {
		if want := fmt.Sprintf("http://127.0.0.1:%d", tt.port); tt.got != want {
			t.Errorf("banner's %s URL = %q, want %q", tt.name, tt.got, want)
		}
	}
	for _, want := range []string{"/detect?imageUri=", "/sms", "Data directory", "auth token", "offline", `(the "Cloud Function", served by functions-framework-go)`} {
		if !strings.Contains(banner, want) {
			t.Errorf("banner lacks %q:\n%s", want, banner)
		}
	}

	resp, err := http.Get(phoneURL)
	if err != nil {
		t.Fatalf("GET %s: %v", phoneURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %d, want 200", phoneURL, resp.StatusCode)
	}

	// Through the gateway and the proxy, then the labeler directly, the
	// way Cloud Functions is called: with an execution id.
	const executionID = "crossfaas-dev-test-1"
	getLabels(t, gatewayURL+"/detect", "")
	getLabels(t, labelerURL+"/", executionID)

	// funcframework wrapped both requests: the labeler's log lines carry
	// its execution ids, the caller's or a fresh one.
	var ids []string
	for deadline := time.Now().Add(5 * time.Second); len(ids) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ids = labelerExecutionIDs(t, stderr.String())
	}
	if len(ids) != 2 || ids[0] == "" || ids[0] == executionID || ids[1] != executionID {
		t.Errorf("the labeler's log lines have execution ids %q, want a fresh one then %q; stderr:\n%s", ids, executionID, stderr.String())
	}
	// funcframework's ServeMux answers an unclean path with a redirect to
	// its clean form; a bare handler (dev's own server) would label the
	// default image.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(labelerURL + "/x/../")
	if err != nil {
		t.Fatalf("GET %s/x/../: %v", labelerURL, err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 3 || resp.Header.Get("Location") != "/" {
		t.Errorf("GET %s/x/../ = %d, Location %q, want funcframework's redirect to /", labelerURL, resp.StatusCode, resp.Header.Get("Location"))
	}

	if err := child.Process.Signal(os.Interrupt); err != nil {
		t.Fatalf("send SIGINT: %v", err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Errorf("crossfaas dev after SIGINT = %v, want exit status 0; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("crossfaas dev did not exit within 10s of SIGINT; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "crossfaas dev: stopped.") {
		t.Errorf("stdout lacks the stop line: %q", stdout.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"dev: running"`) || !strings.Contains(stderr.String(), `"labelerServer":"functions-framework-go"`) {
		t.Errorf("stderr lacks the JSON start-up log naming functions-framework-go: %q", stderr.String())
	}
}

// getLabels GETs u (with a Function-Execution-Id header if executionID is
// not empty) and checks the offline labeler labeled the default image.
func getLabels(t *testing.T, u, executionID string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if executionID != "" {
		req.Header.Set("Function-Execution-Id", executionID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var got labeler.Response
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &got) != nil || got.Annotation == nil {
		t.Fatalf("GET %s = %d %s, want 200 and the labeler's JSON", u, resp.StatusCode, body)
	}
	if got.Engine != labeler.EngineOffline || !got.DefaultImage {
		t.Errorf("GET %s engine, defaultImage = %q, %v, want %q, true", u, got.Engine, got.DefaultImage, labeler.EngineOffline)
	}
}

// labelerExecutionIDs returns the executionId of each of the labeler's
// "detect" log lines in stderr, in order.
func labelerExecutionIDs(t *testing.T, stderr string) []string {
	t.Helper()
	var ids []string
	for line := range strings.Lines(stderr) {
		var rec struct {
			Msg         string `json:"msg"`
			Function    string `json:"function"`
			ExecutionID string `json:"executionId"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue // not a log record
		}
		if rec.Msg == "detect" && strings.HasSuffix(rec.Function, "-labeler") {
			ids = append(ids, rec.ExecutionID)
		}
	}
	return ids
}
