package labeler

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/GoogleCloudPlatform/functions-framework-go/funcframework"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
)

// envServe makes the test binary serve the registered functions with
// funcframework on the given port instead of running tests (see TestMain).
const envServe = "LABELER_TEST_SERVE_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(envServe); port != "" {
		// The child process of TestDetectServedByFunctionsFramework: exactly
		// what the Cloud Functions runtime does with the package.
		if err := funcframework.StartHostPort("127.0.0.1", port); err != nil {
			fmt.Fprintln(os.Stderr, "funcframework:", err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// TestDetectServedByFunctionsFramework serves the function registered in
// init as Cloud Functions does (funcframework with FUNCTION_TARGET=Detect),
// in a child process whose LABELER_VISION_ENDPOINT points the lazily built
// Vision client at the fake. A fresh process per run keeps the registered
// function's build-once handler honest under -count.
func TestDetectServedByFunctionsFramework(t *testing.T) {
	fake := startFakeVision(t)
	tr := startFakeTranslation(t)
	port := freePort(t)
	stdout := &lockedBuffer{}
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(),
		envServe+"="+port,
		"FUNCTION_TARGET=Detect",
		EnvVisionEndpoint+"="+fake.addr,
		EnvTranslationEndpoint+"="+tr.addr,
		EnvLanguages+"=es,fr",
		EnvProject+"=test-project",
		EnvMaxImageBytes+"=65536",
	)
	child.Stdout = stdout
	child.Stderr = stdout
	if err := child.Start(); err != nil {
		t.Fatalf("start funcframework child: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	t.Cleanup(func() {
		child.Process.Kill()
		<-exited
	})
	base := "http://127.0.0.1:" + port
	waitForServer(t, base, exited, stdout)

	got := send(t, newRequest(t, http.MethodGet, base+"/", "", ""))
	if got.status != http.StatusOK {
		t.Fatalf("GET / status = %d, want 200; body %s", got.status, got.raw)
	}
	if got.json["imageUri"] != imageuri.Default || got.json["defaultImage"] != true || got.json["engine"] != EngineCloudVision {
		t.Errorf("GET / = %s, want Vision labels of the default image", got.raw)
	}

	const uri = "https://example.com/cat.jpg"
	got = send(t, newRequest(t, http.MethodPost, base+"/", "application/json", `{"imageUri":"`+uri+`"}`))
	if got.status != http.StatusOK || got.json["imageUri"] != uri {
		t.Errorf("POST / status = %d, body %s; want 200 for %q", got.status, got.raw, uri)
	}

	got = send(t, newRequest(t, http.MethodGet, base+queryFor("ftp://example.com/cat.jpg"), "", ""))
	if got.status != http.StatusBadRequest {
		t.Errorf("GET ftp URI status = %d, want 400; body %s", got.status, got.raw)
	}

	if uris := fake.imageURIs(); !reflect.DeepEqual(uris, []string{imageuri.Default, uri}) {
		t.Errorf("Vision was asked about %q, want %q", uris, []string{imageuri.Default, uri})
	}

	// Image bytes, translated into the enabled languages, within the limit.
	got = send(t, newRequest(t, http.MethodPost, base+"/?languages=es", "image/jpeg", string(testImages(t)[FormatJPEG])))
	if got.status != http.StatusOK || get(got.json, "image.format") != FormatJPEG {
		t.Errorf("POST image status = %d, body %s; want 200", got.status, got.raw)
	}
	if l, _ := got.json["labels"].([]any); len(l) == 0 || get(l[0], "translations.es") != "Gato" {
		t.Errorf("POST image labels = %v, want them in Spanish", got.json["labels"])
	}
	if n := len(tr.received()); n != 1 {
		t.Errorf("Translation got %d calls, want 1", n)
	}
	got = send(t, newRequest(t, http.MethodPost, base+"/?languages=de", "image/jpeg", string(testImages(t)[FormatJPEG])))
	if got.status != http.StatusBadRequest {
		t.Errorf("POST with a language not enabled: status %d, want 400", got.status)
	}
	got = send(t, newRequest(t, http.MethodPost, base+"/", "image/jpeg", string(append(testImages(t)[FormatJPEG], make([]byte, 65536)...))))
	if got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST over LABELER_MAX_IMAGE_BYTES: status %d, want 413", got.status)
	}

	// One JSON line per request on stdout, as Cloud Logging reads it. The
	// line is written just after the reply, so give it a moment.
	want := []any{200.0, 200.0, 400.0, 200.0, 400.0, 413.0}
	var statuses []any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		statuses = nil
		for _, line := range stdout.lines(t) {
			if line["message"] == "detect" {
				statuses = append(statuses, line["status"])
			}
		}
		if len(statuses) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	if !reflect.DeepEqual(statuses, want) {
		t.Errorf("the function logged statuses %v, want %v; stdout:\n%s", statuses, want, stdout.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer lis.Close()
	_, port, _ := net.SplitHostPort(lis.Addr().String())
	return port
}

// waitForServer polls base until it accepts connections, failing if the
// server process exits first.
func waitForServer(t *testing.T, base string, exited <-chan error, output *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("funcframework exited: %v; output:\n%s", err, output.String())
		default:
		}
		conn, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatalf("funcframework at %s not reachable: %v; output:\n%s", base, err, output.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestFunctionMisconfigured(t *testing.T) {
	logs := &lockedBuffer{}
	env := map[string]string{EnvVisionEndpoint: "vision-emulator"} // no port
	f := newFunction(func(k string) string { return env[k] }, newCloudLogger(logs))

	for range 2 {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))

		if rec.Code != http.StatusInternalServerError {
			t.Errorf("status = %d, want 500", rec.Code)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type = %q, want %q", ct, "application/json")
		}
		if body := rec.Body.String(); !strings.Contains(body, "misconfigured") || strings.Contains(body, EnvVisionEndpoint) {
			t.Errorf("body = %s, want a generic misconfiguration error", body)
		}
	}
	lines := logs.lines(t)
	if len(lines) != 2 {
		t.Fatalf("logged %d lines for 2 requests, want 2", len(lines))
	}
	wantErr := `LABELER_VISION_ENDPOINT="vision-emulator" is not host:port`
	if e, _ := lines[0]["error"].(string); e != wantErr || lines[0]["severity"] != "ERROR" {
		t.Errorf("log line = %v, want severity ERROR and error %q", lines[0], wantErr)
	}
}

func TestVisionOptions(t *testing.T) {
	tests := []struct {
		name     string
		endpoint string
		wantOpts int
		wantErr  string
	}{
		{name: "unset uses the cloud", endpoint: "", wantOpts: 0},
		{name: "loopback", endpoint: "127.0.0.1:9090", wantOpts: 3},
		{name: "emulator host", endpoint: "vision-emulator:8080", wantOpts: 3},
		{name: "ipv6", endpoint: "[::1]:9090", wantOpts: 3},
		{name: "no port", endpoint: "localhost", wantErr: `LABELER_VISION_ENDPOINT="localhost" is not host:port`},
		{name: "no host", endpoint: ":9090", wantErr: `LABELER_VISION_ENDPOINT=":9090" is not host:port`},
		{name: "url", endpoint: "http://localhost:9090", wantErr: `LABELER_VISION_ENDPOINT="http://localhost:9090" is not host:port`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := visionOptions(func(k string) string {
				if k == EnvVisionEndpoint {
					return tt.endpoint
				}
				return ""
			})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("visionOptions(%q) error = %q, want %q", tt.endpoint, got, tt.wantErr)
			}
			if len(opts) != tt.wantOpts {
				t.Errorf("visionOptions(%q) returned %d options, want %d", tt.endpoint, len(opts), tt.wantOpts)
			}
		})
	}
}

func TestNewCloudLogger(t *testing.T) {
	tests := []struct {
		level        slog.Level
		wantSeverity string
	}{
		{slog.LevelInfo, "INFO"},
		{slog.LevelWarn, "WARNING"},
		{slog.LevelError, "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.level.String(), func(t *testing.T) {
			logs := &lockedBuffer{}
			newCloudLogger(logs).Log(t.Context(), tt.level, "hello", slog.Group("req", slog.String("level", "kept")))

			lines := logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1", len(lines))
			}
			line := lines[0]
			if line["severity"] != tt.wantSeverity || line["message"] != "hello" {
				t.Errorf("log line = %v, want severity %q and message %q", line, tt.wantSeverity, "hello")
			}
			if _, ok := line["level"]; ok {
				t.Errorf("log line = %v still has slog's level key", line)
			}
			if g, _ := line["req"].(map[string]any); g["level"] != "kept" {
				t.Errorf("log line = %v, want the grouped attribute untouched", line)
			}
		})
	}
}
