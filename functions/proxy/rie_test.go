package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// The proxy's main package, as the build and the harness take it.
const bootstrapPackage = "./functions/proxy/bootstrap"

// maxZipSize is the largest proxy.zip we accept: a cold start reads the
// whole package, so it stays small.
const maxZipSize = 3 << 20

// outputWait bounds the wait for a function's log line. WaitOutput returns
// as soon as the line is there; the bound only matters when it never comes,
// and is generous for a loaded machine.
const outputWait = 30 * time.Second

// labelsJSON is a labeler reply of realistic size.
const labelsJSON = `{"imageUri":"gs://cloud-samples-data/vision/label/wakeupcat.jpg","labels":[` +
	`{"description":"Cat","score":0.99},{"description":"Whiskers","score":0.95},` +
	`{"description":"Felidae","score":0.93},{"description":"Small to medium-sized cats","score":0.92},` +
	`{"description":"Carnivore","score":0.89},{"description":"Sleep","score":0.81}]}`

// startProxy runs the real bootstrap under the Lambda emulator, configured
// for the labeler at labelerURL, with JSON logs as the stack configures them.
func startProxy(t testing.TB, labelerURL string, timeout time.Duration) *lambdatest.Function {
	t.Helper()
	return lambdatest.Start(t, lambdatest.Options{
		Package: bootstrapPackage,
		Timeout: timeout,
		Env: map[string]string{
			EnvLabelerURL:           labelerURL,
			"AWS_LAMBDA_LOG_FORMAT": "JSON",
		},
	})
}

func TestBootstrapUnderRIE(t *testing.T) {
	labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get(QueryParam) == "gs://b/not-an-image.txt" {
			jsonReply(422, `{"error":"the image could not be decoded"}`)(w, r)
			return
		}
		jsonReply(200, labelsJSON)(w, r)
	})
	fn := startProxy(t, labeler.URL, 0)

	tests := []struct {
		name       string
		method     string
		path       string
		rawQuery   string
		wantStatus int
		wantBody   string // exact body; "" to check only that it is a JSON error
		wantQuery  []string
	}{
		{name: "labels", method: "GET", path: "/detect", rawQuery: "imageUri=" + "gs%3A%2F%2Fcloud-samples-data%2Fvision%2Flabel%2Fwakeupcat.jpg",
			wantStatus: 200, wantBody: labelsJSON, wantQuery: []string{"imageUri=gs%3A%2F%2Fcloud-samples-data%2Fvision%2Flabel%2Fwakeupcat.jpg"}},
		{name: "uri with query", method: "GET", path: "/detect", rawQuery: "imageUri=https%3A%2F%2Fimg.example.com%2Fa.jpg%3Fw%3D1%26h%3D2",
			wantStatus: 200, wantBody: labelsJSON, wantQuery: []string{"imageUri=https%3A%2F%2Fimg.example.com%2Fa.jpg%3Fw%3D1%26h%3D2"}},
		{name: "default image", method: "GET", path: "/detect", wantStatus: 200, wantBody: labelsJSON, wantQuery: []string{""}},
		{name: "labeler refuses", method: "GET", path: "/detect", rawQuery: "imageUri=gs://b/not-an-image.txt",
			wantStatus: 422, wantBody: `{"error":"the image could not be decoded"}`, wantQuery: []string{"imageUri=gs%3A%2F%2Fb%2Fnot-an-image.txt"}},
		{name: "bad uri", method: "GET", path: "/detect", rawQuery: "imageUri=file:///etc/passwd", wantStatus: 400},
		{name: "wrong method", method: "POST", path: "/detect", wantStatus: 405},
		{name: "unknown path", method: "GET", path: "/labels", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(labeler.calls())
			resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent(tt.method, tt.path, tt.rawQuery, nil, ""))
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("%s %s?%s status = %d (%s), want %d", tt.method, tt.path, tt.rawQuery, resp.StatusCode, resp.Body, tt.wantStatus)
			}
			if tt.wantBody != "" && resp.Body != tt.wantBody {
				t.Errorf("%s %s?%s body = %q, want %q", tt.method, tt.path, tt.rawQuery, resp.Body, tt.wantBody)
			}
			if tt.wantBody == "" {
				errorMessage(t, resp)
			}
			if !strings.HasPrefix(resp.Headers["Content-Type"], "application/json") {
				t.Errorf("Content-Type = %q, want application/json", resp.Headers["Content-Type"])
			}
			if got := labeler.calls()[before:]; !slices.Equal(got, tt.wantQuery) {
				t.Errorf("%s %s?%s: labeler saw queries %q, want %q", tt.method, tt.path, tt.rawQuery, got, tt.wantQuery)
			}
		})
	}

	// One JSON log line per invocation, with the request id Lambda assigned.
	// The wait ends as soon as the line is there; its bound is for a
	// loaded machine.
	if !fn.WaitOutput(`"path":"/labels"`, outputWait) {
		t.Fatalf("no log line for the last invocation in:\n%s", fn.Output())
	}
	var logged []map[string]any
	for line := range strings.Lines(fn.Output()) {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["message"] == "detect" {
			logged = append(logged, rec)
		}
	}
	if len(logged) != len(tests) {
		t.Fatalf("%d detect log lines for %d invocations:\n%s", len(logged), len(tests), fn.Output())
	}
	first := logged[0]
	if first["requestId"] == "" || first["status"] != 200.0 || first["upstreamStatus"] != 200.0 || first["upstreamLatencyMs"] == nil {
		t.Errorf("log line = %v, want requestId, status, upstreamStatus and upstreamLatencyMs", first)
	}
}

func TestBootstrapUnderRIEAnswers504BeforeLambdaTimesOut(t *testing.T) {
	release := make(chan struct{})
	labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	defer close(release)
	const timeout = 3 * time.Second
	fn := startProxy(t, labeler.URL, timeout)
	// A first, quick invocation takes the cold start out of the slow one's
	// time, which a loaded machine could stretch past the function timeout.
	if resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent("GET", "/warm-up", "", nil, "")); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("warm-up invocation: status = %d, want 404", resp.StatusCode)
	}

	// InvokeAPIGatewayV2 fails the test on a function error, which is what
	// a Lambda timeout (Sandbox.Timedout) is: a 504 answer means the proxy
	// answered before Lambda killed the invocation.
	start := time.Now()
	resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent("GET", "/detect", "imageUri=gs://b/slow.jpg", nil, ""))
	elapsed := time.Since(start)
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status = %d (%s), want 504", resp.StatusCode, resp.Body)
	}
	errorMessage(t, resp)
	if elapsed >= timeout {
		t.Errorf("answered after %v, want before the %v function timeout", elapsed, timeout)
	}
}

func TestBootstrapFailsFastWithoutLabelerURL(t *testing.T) {
	tests := []struct {
		name  string
		value string
		want  string
	}{
		{name: "missing", value: "", want: "LABELER_URL is not set"},
		{name: "invalid", value: "ftp://labeler.example.com", want: "scheme must be http or https"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := startProxy(t, tt.value, 0)
			_, err := fn.Invoke(context.Background(), lambdatest.HTTPEvent("GET", "/detect", "", nil, ""))
			var fnErr *lambdatest.FunctionError
			if !errors.As(err, &fnErr) || fnErr.Type != "Runtime.ExitError" {
				t.Fatalf("Invoke with LABELER_URL=%q: error = %v, want an init failure", tt.value, err)
			}
			if !strings.Contains(fnErr.Message, tt.want) || !strings.Contains(fnErr.Message, EnvLabelerURL) {
				t.Errorf("init failure output = %q, want it to name %s and say %q", fnErr.Message, EnvLabelerURL, tt.want)
			}
		})
	}
}

func TestBootstrapUnderRIEReusesOneConnection(t *testing.T) {
	labeler := newFakeLabeler(t, jsonReply(200, labelsJSON))
	fn := startProxy(t, labeler.URL, 0)
	const calls = 200
	for i := range calls {
		resp := fn.InvokeAPIGatewayV2(t, lambdatest.HTTPEvent("GET", "/detect", "imageUri=gs://b/o.jpg", nil, ""))
		if resp.StatusCode != 200 {
			t.Fatalf("call %d: status = %d (%s)", i, resp.StatusCode, resp.Body)
		}
	}
	// One connection is what an idle machine shows (the benchmark reports
	// the count). Go's transport gives a connection back to its pool only
	// when the request's write is seen done within 50 ms of the response
	// (maxWriteWaitBeforeConnReuse), which a machine under heavy load can
	// miss now and then; without keep-alive every call would open one.
	if got := labeler.newConn.Load(); got < 1 || got > maxConnsFor200Calls {
		t.Errorf("%d sequential invocations opened %d connections to the labeler, want 1 (at most %d on a loaded machine)", calls, got, maxConnsFor200Calls)
	}
}

// maxConnsFor200Calls bounds the labeler connections of 200 sequential
// invocations: far below the 200 of a proxy without keep-alive.
const maxConnsFor200Calls = 4

func TestProxyZipSize(t *testing.T) {
	bin := lambdatest.Build(t, bootstrapPackage)
	zipPath := filepath.Join(t.TempDir(), "proxy.zip")
	if err := gobuild.ZipLambda(bin, zipPath); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("proxy.zip (host build) is %d bytes (%.2f MiB)", info.Size(), float64(info.Size())/(1<<20))
	if info.Size() > maxZipSize {
		t.Errorf("proxy.zip is %d bytes, want at most %d (3 MiB)", info.Size(), maxZipSize)
	}
}
