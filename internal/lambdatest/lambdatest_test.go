package lambdatest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

const echoPackage = "./internal/lambdatest/echo"

func TestHTTPEvent(t *testing.T) {
	ev := HTTPEvent("POST", "/sms", "a=1&b=x%20y&a=2", map[string]string{
		"Content-Type":       "application/x-www-form-urlencoded",
		"X-Twilio-Signature": "sig",
		"Cookie":             "session=abc; theme=dark",
	}, "Body=face+match&From=%2B15551234567")

	if ev.Version != "2.0" || ev.RouteKey != "POST /sms" || ev.RequestContext.RouteKey != "POST /sms" {
		t.Errorf("version, routeKey = %q, %q, %q; want 2.0 and POST /sms twice", ev.Version, ev.RouteKey, ev.RequestContext.RouteKey)
	}
	if ev.RawPath != "/sms" || ev.RequestContext.HTTP.Path != "/sms" || ev.RequestContext.HTTP.Method != "POST" {
		t.Errorf("path, method = %q, %q, %q", ev.RawPath, ev.RequestContext.HTTP.Path, ev.RequestContext.HTTP.Method)
	}
	if ev.RequestContext.Stage != "$default" || ev.RequestContext.DomainName != EventDomainName || ev.RequestContext.RequestID == "" || ev.RequestContext.TimeEpoch == 0 {
		t.Errorf("request context = %+v, want $default stage, domain, request id and time", ev.RequestContext)
	}
	if _, err := time.Parse("02/Jan/2006:15:04:05 -0700", ev.RequestContext.Time); err != nil {
		t.Errorf("requestContext.time %q is not in API Gateway's format: %v", ev.RequestContext.Time, err)
	}
	wantQuery := map[string]string{"a": "1,2", "b": "x y"}
	if !reflect.DeepEqual(ev.QueryStringParameters, wantQuery) {
		t.Errorf("queryStringParameters = %q, want %q", ev.QueryStringParameters, wantQuery)
	}
	if ev.Headers["x-twilio-signature"] != "sig" || ev.Headers["host"] != EventDomainName || ev.Headers["content-length"] != "35" {
		t.Errorf("headers = %q, want lower-cased names, host and content-length 35", ev.Headers)
	}
	if _, ok := ev.Headers["cookie"]; ok || !reflect.DeepEqual(ev.Cookies, []string{"session=abc", "theme=dark"}) {
		t.Errorf("cookies = %q, cookie header = %q; want the cookies moved out of the headers", ev.Cookies, ev.Headers["cookie"])
	}
	if !ev.IsBase64Encoded {
		t.Fatalf("a form body is not base64-encoded: %q", ev.Body)
	}
	if body, err := base64.StdEncoding.DecodeString(ev.Body); err != nil || string(body) != "Body=face+match&From=%2B15551234567" {
		t.Errorf("decoded body = %q, %v", body, err)
	}

	// The event survives the JSON round trip the runtime makes.
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(data, &back); err != nil || !reflect.DeepEqual(back, ev) {
		t.Errorf("JSON round trip changed the event: %v\n%+v\n%+v", err, back, ev)
	}
}

func TestHTTPEventBodyEncoding(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        string
		wantBase64  bool
	}{
		{name: "json", contentType: "application/json", body: `{"a":1}`},
		{name: "json with charset", contentType: "application/json; charset=utf-8", body: `{"a":1}`},
		{name: "problem json", contentType: "application/problem+json", body: `{}`},
		{name: "text", contentType: "text/plain", body: "hello"},
		{name: "xml", contentType: "application/xml", body: "<a/>"},
		{name: "form", contentType: "application/x-www-form-urlencoded", body: "a=1", wantBase64: true},
		{name: "binary", contentType: "image/jpeg", body: "\xff\xd8\xff", wantBase64: true},
		{name: "text type but not utf-8", contentType: "text/plain", body: "\xff", wantBase64: true},
		{name: "no content type", body: "a", wantBase64: true},
		{name: "no body", contentType: "image/jpeg", body: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := HTTPEvent("POST", "/", "", map[string]string{"content-type": tt.contentType}, tt.body)
			if ev.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("HTTPEvent(%q body %q).IsBase64Encoded = %v, want %v", tt.contentType, tt.body, ev.IsBase64Encoded, tt.wantBase64)
			}
			got := ev.Body
			if ev.IsBase64Encoded {
				b, _ := base64.StdEncoding.DecodeString(ev.Body)
				got = string(b)
			}
			if got != tt.body {
				t.Errorf("HTTPEvent(%q body %q) body decodes to %q", tt.contentType, tt.body, got)
			}
		})
	}
}

func TestHTTPEventWithoutQuery(t *testing.T) {
	ev := HTTPEvent("GET", "/detect", "", nil, "")
	if ev.QueryStringParameters != nil || ev.Cookies != nil || ev.Body != "" || ev.IsBase64Encoded {
		t.Errorf("HTTPEvent(GET /detect) = %+v, want no query, cookies or body", ev)
	}
	if _, ok := ev.Headers["content-length"]; ok {
		t.Errorf("GET without body has content-length %q", ev.Headers["content-length"])
	}
	if other := HTTPEvent("GET", "/detect", "", nil, ""); other.RequestContext.RequestID == ev.RequestContext.RequestID {
		t.Errorf("two events share request id %q", ev.RequestContext.RequestID)
	}
}

func TestDefaultName(t *testing.T) {
	tests := []struct{ pkg, want string }{
		{"./functions/proxy/bootstrap", "proxy"},
		{"./functions/sleuth/request", "request"},
		{"./internal/lambdatest/echo/", "echo"},
		{"github.com/crossfaas/crossfaas/functions/proxy/bootstrap", "proxy"},
		{"bootstrap", "function"},
	}
	for _, tt := range tests {
		if got := defaultName(tt.pkg); got != tt.want {
			t.Errorf("defaultName(%q) = %q, want %q", tt.pkg, got, tt.want)
		}
	}
}

// TestBinaryDir checks that two checkouts never share the slot of a
// package's executable, while one checkout always finds its own.
func TestBinaryDir(t *testing.T) {
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	const pkg = "./functions/proxy/bootstrap"
	dir := func(root string) string {
		t.Helper()
		d, err := binaryDir(root, pkg)
		if err != nil {
			t.Fatalf("binaryDir(%q, %q): %v", root, pkg, err)
		}
		return d
	}
	a, again, b := dir("/src/crossfaas"), dir("/src/crossfaas"), dir("/src/crossfaas-worktree")
	if a != again {
		t.Errorf("binaryDir(%q, %q) = %q, then %q", "/src/crossfaas", pkg, a, again)
	}
	if a == b {
		t.Errorf("binaryDir(%q, %q) = binaryDir(%q, %q) = %q, want a slot per checkout", "/src/crossfaas", pkg, "/src/crossfaas-worktree", pkg, a)
	}
}

func TestTailBuffer(t *testing.T) {
	b := newTailBuffer(8)
	b.Write([]byte("abcdef"))
	b.Write([]byte("ghij"))
	if got := b.String(); got != "efghij" {
		t.Errorf("tailBuffer after 10 bytes with max 8 = %q, want %q", got, "efghij")
	}
}

func TestInvokeEcho(t *testing.T) {
	fn := Start(t, Options{Package: echoPackage, Handler: "echo"})
	ctx := context.Background()
	tests := []struct {
		name    string
		payload any
		want    string
	}{
		{name: "struct", payload: struct {
			A int `json:"a"`
		}{7}, want: `{"a":7}`},
		{name: "raw bytes", payload: []byte(`[1,2,3]`), want: `[1,2,3]`},
		{name: "raw message", payload: json.RawMessage(`"x"`), want: `"x"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fn.Invoke(ctx, tt.payload)
			if err != nil || string(got) != tt.want {
				t.Errorf("Invoke(%v) = %q, %v; want %q", tt.payload, got, err, tt.want)
			}
		})
	}
	if !fn.WaitOutput("REPORT RequestId:", 2*time.Second) {
		t.Errorf("output has no REPORT line:\n%s", fn.Output())
	}
}

func TestInvokeSeesConfiguredEnvironment(t *testing.T) {
	fn := Start(t, Options{
		Package: echoPackage,
		Handler: "env",
		Timeout: 3 * time.Second,
		Name:    "crossfaas-dev-echo",
		Env:     map[string]string{"LABELER_URL": "http://127.0.0.1:1/", "AWS_REGION": "eu-west-1"},
	})
	payload, err := fn.Invoke(context.Background(), struct{}{})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var report struct {
		Env        map[string]string `json:"env"`
		RequestID  string            `json:"requestId"`
		DeadlineMs int64             `json:"deadlineMs"`
	}
	if err := json.Unmarshal(payload, &report); err != nil {
		t.Fatalf("payload %q: %v", payload, err)
	}
	want := map[string]string{
		"LABELER_URL":                 "http://127.0.0.1:1/",
		"AWS_REGION":                  "eu-west-1",
		"AWS_DEFAULT_REGION":          "us-east-1",
		"_HANDLER":                    "env",
		"AWS_LAMBDA_FUNCTION_NAME":    "crossfaas-dev-echo",
		"AWS_LAMBDA_FUNCTION_TIMEOUT": "3",
		"AWS_EC2_METADATA_DISABLED":   "true",
	}
	for k, v := range want {
		if got := report.Env[k]; got != v {
			t.Errorf("function env %s = %q, want %q", k, got, v)
		}
	}
	if api := report.Env["AWS_LAMBDA_RUNTIME_API"]; !strings.HasPrefix(api, "127.0.0.1:") {
		t.Errorf("AWS_LAMBDA_RUNTIME_API = %q, want a loopback address", api)
	}
	for k := range report.Env {
		if _, isTests := os.LookupEnv(k); isTests && want[k] == "" && !platformVar(k) {
			t.Errorf("function env has %s from the test's environment", k)
		}
	}
	if report.RequestID == "" {
		t.Error("the invocation has no request id")
	}
	if report.DeadlineMs < 2000 || report.DeadlineMs > 3000 {
		t.Errorf("deadline %d ms ahead, want about 3000 (the timeout)", report.DeadlineMs)
	}
}

// platformVar reports whether k is a variable Start or the emulator sets for
// every function, and so may also be in the test's environment.
func platformVar(k string) bool {
	return k == "PATH" || k == "TMPDIR" || strings.HasPrefix(k, "AWS_") || strings.HasPrefix(k, "LAMBDA_") || strings.HasPrefix(k, "_")
}

func TestInvokeReportsFunctionErrors(t *testing.T) {
	tests := []struct {
		name     string
		handler  string
		timeout  time.Duration
		wantType string
		wantMsg  string
	}{
		{name: "handler error", handler: "error", wantType: "errorString", wantMsg: `"boom"`},
		{name: "init failure", handler: "initfail", wantType: "Runtime.ExitError", wantMsg: "failing init as asked"},
		{name: "timeout", handler: "sleep", timeout: time.Second, wantType: "Sandbox.Timedout", wantMsg: "timed out after 1.00 seconds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fn := Start(t, Options{Package: echoPackage, Handler: tt.handler, Timeout: tt.timeout})
			_, err := fn.Invoke(context.Background(), "boom")
			var fnErr *FunctionError
			if !errors.As(err, &fnErr) {
				t.Fatalf("Invoke with handler %q: error = %v, want a *FunctionError", tt.handler, err)
			}
			if fnErr.Type != tt.wantType || !strings.Contains(fnErr.Message, tt.wantMsg) {
				t.Errorf("Invoke with handler %q: error = %q, want type %q and a message containing %q", tt.handler, err, tt.wantType, tt.wantMsg)
			}
		})
	}
}

func TestInvokeHonoursContext(t *testing.T) {
	fn := Start(t, Options{Package: echoPackage, Handler: "sleep", Timeout: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := fn.Invoke(ctx, struct{}{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Invoke with an expiring context: error = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Invoke returned after %v, want soon after its context expired", d)
	}
}

func TestCloseStopsEmulatorAndBootstrap(t *testing.T) {
	fn := Start(t, Options{Package: echoPackage})
	if _, err := fn.Invoke(context.Background(), 1); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	rie := fn.cmd.Process.Pid
	bootstraps := childPIDs(rie)
	if len(bootstraps) != 1 {
		t.Fatalf("emulator %d has children %v, want the one bootstrap", rie, bootstraps)
	}
	fn.Close()
	fn.Close() // a second Close does nothing
	for _, pid := range append(bootstraps, rie) {
		if alive(pid) {
			t.Errorf("process %d is still running after Close", pid)
		}
	}
	if _, err := fn.Invoke(context.Background(), 1); err == nil {
		t.Error("Invoke after Close succeeded")
	}
}

// alive reports whether pid is a running (not zombie) process.
func alive(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return len(fields) > 0 && fields[0] != "Z" && syscall.Kill(pid, 0) == nil
}

func TestSNSEvent(t *testing.T) {
	const topic = "arn:aws:sns:us-east-1:123456789012:crossfaas-dev-match"
	ev := SNSEvent(topic, `{"command":"match"}`, map[string]string{"step": "match"})
	if len(ev.Records) != 1 {
		t.Fatalf("SNSEvent has %d records, want 1", len(ev.Records))
	}
	r := ev.Records[0]
	if r.EventSource != "aws:sns" || r.SNS.Type != "Notification" || r.SNS.TopicArn != topic || r.SNS.Message != `{"command":"match"}` {
		t.Errorf("record = %+v, want an aws:sns notification of the message on %s", r, topic)
	}
	if !strings.HasPrefix(r.EventSubscriptionArn, topic+":") || r.SNS.MessageID == "" || r.SNS.Timestamp.IsZero() {
		t.Errorf("subscription %q, message id %q, timestamp %v: want all set", r.EventSubscriptionArn, r.SNS.MessageID, r.SNS.Timestamp)
	}
	if other := SNSEvent(topic, "", nil); other.Records[0].SNS.MessageID == r.SNS.MessageID {
		t.Errorf("two events share message id %q", r.SNS.MessageID)
	}

	// It decodes like the fixture of aws-lambda-go: attributes as
	// {"Type","Value"} objects.
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var back events.SNSEvent
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	attr, _ := back.Records[0].SNS.MessageAttributes["step"].(map[string]any)
	if attr["Type"] != "String" || attr["Value"] != "match" {
		t.Errorf("attribute step = %v, want Type String, Value match", back.Records[0].SNS.MessageAttributes["step"])
	}
	if !back.Records[0].SNS.Timestamp.Equal(r.SNS.Timestamp) {
		t.Errorf("timestamp %v became %v in JSON", r.SNS.Timestamp, back.Records[0].SNS.Timestamp)
	}
}
