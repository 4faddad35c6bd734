package logs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"cloud.google.com/go/logging/apiv2/loggingpb"
	"cloud.google.com/go/logging/logadmin"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/crossfaas/crossfaas/internal/logs/logsfake"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/api/monitoredres"
	ltype "google.golang.org/genproto/googleapis/logging/type"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// base is the fake clock's start.
var base = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// fakes are the two log services with real clients pointed at them.
type fakes struct {
	cw      *logsfake.CloudWatchLogs
	cl      *logsfake.CloudLogging
	cwAPI   *cloudwatchlogs.Client
	clAPI   *logadmin.Client
	sources []Source
}

func newFakes(t *testing.T) *fakes {
	t.Helper()
	f := &fakes{cw: logsfake.NewCloudWatchLogs(), cl: logsfake.NewCloudLogging()}
	srv := httptest.NewServer(f.cw)
	t.Cleanup(srv.Close)
	f.cwAPI = cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
		HTTPClient:   srv.Client(),
	}, NoRetries)
	addr := f.cl.Serve(t)
	var err error
	f.clAPI, err = logadmin.NewClient(context.Background(), "test-project",
		option.WithEndpoint(addr), option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.clAPI.Close() })
	for _, g := range []string{"/aws/lambda/crossfaas-dev-proxy", "/aws/lambda/crossfaas-dev-sleuth-request"} {
		f.cw.CreateGroup(g)
	}
	f.sources = []Source{
		&CloudWatch{Client: f.cwAPI, Group: "/aws/lambda/crossfaas-dev-proxy", Function: "proxy"},
		&CloudWatch{Client: f.cwAPI, Group: "/aws/lambda/crossfaas-dev-sleuth-request", Function: "sleuth-request"},
		&CloudLogging{Client: f.clAPI, Service: "crossfaas-dev-labeler", Function: "labeler"},
	}
	return f
}

// lambdaLine is a line as a Lambda's JSON log format writes it.
func lambdaLine(at time.Time, level, msg string, attrs ...any) string {
	m := map[string]any{"time": at.Format(time.RFC3339Nano), "level": level, "msg": msg, "requestId": "8f5c3e2a-0000-4000-8000-000000000001"}
	for i := 0; i+1 < len(attrs); i += 2 {
		m[attrs[i].(string)] = attrs[i+1]
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// labelerEntry is an entry of the labeler's stdout as Cloud Logging keeps
// it.
func labelerEntry(at time.Time, severity ltype.LogSeverity, payload map[string]any, trace string) *loggingpb.LogEntry {
	s, _ := structpb.NewStruct(payload)
	return &loggingpb.LogEntry{
		LogName:   "projects/test-project/logs/run.googleapis.com%2Fstdout",
		Resource:  &monitoredres.MonitoredResource{Type: "cloud_run_revision", Labels: map[string]string{"service_name": "crossfaas-dev-labeler", "location": "us-central1"}},
		Timestamp: timestamppb.New(at),
		Severity:  severity,
		Payload:   &loggingpb.LogEntry_JsonPayload{JsonPayload: s},
		Trace:     trace,
	}
}

// clock is a fake clock whose Sleep advances it.
type clock struct {
	now    time.Time
	sleeps []time.Duration
	// onSleep runs at each sleep; it may cancel the stream.
	onSleep func(d time.Duration)
}

func (c *clock) Now() time.Time { return c.now }

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	if c.onSleep != nil {
		c.onSleep(d)
	}
	return ctx.Err()
}

func TestStreamMergesBothCloudsByTime(t *testing.T) {
	f := newFakes(t)
	trace := "4bf92f3577b34da6a3ce929d0e0e4736"
	sid := "SM0123456789abcdef0123456789abcdef"
	at := func(s int) time.Time { return base.Add(-time.Minute + time.Duration(s)*time.Second) }
	// More events than a page (3) in each source, interleaved in time.
	f.cw.Put("/aws/lambda/crossfaas-dev-proxy",
		logsfake.CloudWatchEvent{Time: at(1), Message: lambdaLine(at(1), "INFO", "forwarding to the labeler", "traceId", trace)},
		logsfake.CloudWatchEvent{Time: at(4), Message: lambdaLine(at(4), "INFO", "labeler answered", "traceId", trace, "status", 200)},
		logsfake.CloudWatchEvent{Time: at(7), Message: `{"time":"x","type":"platform.report","record":{"requestId":"r","metrics":{"durationMs":12.5}}}`},
		logsfake.CloudWatchEvent{Time: at(10), Message: "panic: plain text line\n"},
	)
	f.cw.Put("/aws/lambda/crossfaas-dev-sleuth-request",
		logsfake.CloudWatchEvent{Time: at(2), Message: lambdaLine(at(2), "INFO", "webhook accepted", "sid", sid)},
		logsfake.CloudWatchEvent{Time: at(5), Message: lambdaLine(at(5), "WARN", "sender refused", "sid", sid)},
		logsfake.CloudWatchEvent{Time: at(8), Message: lambdaLine(at(8), "ERROR", "publish failed", "sid", sid)},
		logsfake.CloudWatchEvent{Time: at(11), Message: lambdaLine(at(11), "INFO", "late", "sid", sid)},
	)
	f.cl.Add(
		labelerEntry(at(3), ltype.LogSeverity_INFO, map[string]any{"message": "labeled", "labels": 5, "traceId": trace}, ""),
		labelerEntry(at(6), ltype.LogSeverity_WARNING, map[string]any{"message": "slow vision call"}, "projects/test-project/traces/"+trace),
		labelerEntry(at(9), ltype.LogSeverity_ERROR, map[string]any{"message": "vision failed"}, ""),
		labelerEntry(at(12), ltype.LogSeverity_INFO, map[string]any{"message": "last"}, ""),
	)
	// Outside the window: neither shown.
	f.cw.Put("/aws/lambda/crossfaas-dev-proxy", logsfake.CloudWatchEvent{Time: base.Add(-2 * time.Hour), Message: "too old"})
	f.cl.Add(labelerEntry(base.Add(-2*time.Hour), ltype.LogSeverity_INFO, map[string]any{"message": "too old"}, ""))

	clk := &clock{now: base}
	var out bytes.Buffer
	err := Stream(context.Background(), Options{Sources: f.sources, Since: 10 * time.Minute, Write: TextWriter(&out), Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	wantOrder := []string{"forwarding to the labeler", "webhook accepted", "labeled", "labeler answered", "sender refused", "slow vision call",
		"platform.report", "publish failed", "vision failed", "panic: plain text line", "late", "last"}
	if len(lines) != len(wantOrder) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(wantOrder), out.String())
	}
	for i, want := range wantOrder {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q, want it to hold %q", i+1, lines[i], want)
		}
	}
	checks := []struct {
		line int
		want []string
	}{
		{0, []string{"2026-12-02T09:59:01.000Z", "aws", "proxy", "INFO", "[" + trace + "]"}},
		{1, []string{"sleuth-request", "[" + sid + "]"}},
		{2, []string{"gcp", "labeler", "INFO", "labels=5", "[" + trace + "]"}},
		{5, []string{"gcp", "labeler", "WARN", "[" + trace + "]"}},
		{6, []string{"platform.report", `metrics={"durationMs":12.5}`}},
		{9, []string{" -  ", "panic: plain text line"}},
	}
	for _, c := range checks {
		for _, w := range c.want {
			if !strings.Contains(lines[c.line], w) {
				t.Errorf("line %d = %q, want it to hold %q", c.line+1, lines[c.line], w)
			}
		}
	}
	if strings.Contains(out.String(), "requestId") || strings.Contains(out.String(), "too old") {
		t.Errorf("output shows a request id or an event outside the window:\n%s", out.String())
	}
	// The sources paged: 5 events in the proxy's group take 2 pages of 3.
	pages := 0
	for _, c := range f.cw.Calls() {
		if c.Group == "/aws/lambda/crossfaas-dev-proxy" {
			pages++
		}
	}
	if pages != 2 {
		t.Errorf("FilterLogEvents called %d times for the proxy, want 2 pages", pages)
	}
	if n := len(f.cl.Filters()); n != 2 {
		t.Errorf("ListLogEntries called %d times, want 2 pages", n)
	}
	wantFilter := `resource.type="cloud_run_revision" AND resource.labels.service_name="crossfaas-dev-labeler" AND timestamp>="2026-12-02T09:50:00Z" AND timestamp<"2026-12-02T10:00:00Z"`
	if got := f.cl.Filters()[0]; got != wantFilter {
		t.Errorf("Cloud Logging filter = %s, want %s", got, wantFilter)
	}
}

func TestStreamRetriesATransientErrorMidPage(t *testing.T) {
	f := newFakes(t)
	for i := range 7 {
		at := base.Add(-time.Minute + time.Duration(i)*time.Second)
		f.cw.Put("/aws/lambda/crossfaas-dev-proxy", logsfake.CloudWatchEvent{Time: at, Message: lambdaLine(at, "INFO", fmt.Sprintf("event %d", i))})
		f.cl.Add(labelerEntry(at.Add(time.Millisecond), ltype.LogSeverity_INFO, map[string]any{"message": fmt.Sprintf("entry %d", i)}, ""))
	}
	// Page 1 of the proxy's group succeeds; page 2 is throttled, then a
	// 503; Cloud Logging's first call runs out of quota.
	clk := &clock{now: base}
	var out, stderr bytes.Buffer
	calls := 0
	sources := []Source{
		&failAfter{Source: f.sources[0], calls: &calls, at: 2, fail: func() {
			f.cw.FailNext(logsfake.Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"}, logsfake.Fault{Status: 503, Code: "ServiceUnavailableException", Message: "try later"})
		}},
		f.sources[2],
	}
	f.cl.FailNext(logsfake.Fault{Code: "ResourceExhausted", Message: "Quota exceeded for ReadRequestsPerMinutePerProject"})
	err := Stream(context.Background(), Options{Sources: sources, Since: 10 * time.Minute, Write: TextWriter(&out), Stderr: &stderr, Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		for _, want := range []string{fmt.Sprintf("event %d", i), fmt.Sprintf("entry %d", i)} {
			if n := strings.Count(out.String(), want+" ") + strings.Count(out.String(), want+"\n"); n != 1 {
				t.Errorf("%q printed %d times, want once:\n%s", want, n, out.String())
			}
		}
	}
	for _, want := range []string{"ThrottlingException", "ServiceUnavailableException", "ResourceExhausted", "retrying in 500ms", "retrying in 1s"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr does not note %q:\n%s", want, stderr.String())
		}
	}
	if got := clk.sleeps; len(got) != 3 {
		t.Errorf("slept %v, want three backoffs", got)
	}
}

// failAfter makes its source's fake fail from the at-th page request on,
// by calling fail once when that page is about to be fetched.
type failAfter struct {
	Source
	calls *int
	at    int
	fail  func()
}

func (f *failAfter) Fetch(ctx context.Context, start, end time.Time, each func(Event) error) error {
	events := 0
	return f.Source.Fetch(ctx, start, end, func(e Event) error {
		events++
		// Page 1 holds 3 events: arm the faults before page 2 is asked for.
		if events == 3 {
			*f.calls++
			if *f.calls == 1 {
				f.fail()
			}
		}
		return each(e)
	})
}

func TestStreamGivesUpOnAPermanentError(t *testing.T) {
	f := newFakes(t)
	f.cw.FailNext(logsfake.Fault{Status: 400, Code: "AccessDeniedException", Message: "User is not authorized to perform: logs:FilterLogEvents"})
	clk := &clock{now: base}
	var stderr bytes.Buffer
	err := Stream(context.Background(), Options{Sources: f.sources[:1], Since: time.Minute, Write: TextWriter(&bytes.Buffer{}), Stderr: &stderr, Now: clk.Now, Sleep: clk.Sleep})
	if err == nil || !strings.Contains(err.Error(), "AccessDeniedException") || !strings.Contains(err.Error(), "/aws/lambda/crossfaas-dev-proxy") {
		t.Fatalf("Stream = %v, want the access error naming the log group", err)
	}
	if stderr.Len() > 0 || len(clk.sleeps) > 0 {
		t.Errorf("a permanent error was retried: %s %v", stderr.String(), clk.sleeps)
	}
}

func TestFollowPrintsNewEventsOnceAndSurvivesAnErrorMidTail(t *testing.T) {
	f := newFakes(t)
	put := func(at time.Time, msg string) {
		f.cw.Put("/aws/lambda/crossfaas-dev-sleuth-request", logsfake.CloudWatchEvent{Time: at, Message: lambdaLine(at, "INFO", msg)})
	}
	put(base.Add(-5*time.Second), "before the tail")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clk := &clock{now: base}
	polls := 0
	clk.onSleep = func(d time.Duration) {
		if d != 2*time.Second {
			return // a backoff, not a poll
		}
		polls++
		switch polls {
		case 1:
			put(clk.now.Add(-time.Second), "during poll 1")
		case 2:
			// The next poll fails twice before it gets through.
			f.cw.FailNext(logsfake.Fault{Status: 500, Code: "InternalFailure", Message: "boom"}, logsfake.Fault{Status: 400, Code: "ThrottlingException", Message: "Rate exceeded"})
			// Late: stamped before the last poll's end, ingested after it.
			put(clk.now.Add(-3*time.Second), "late arrival")
		case 3:
			put(clk.now.Add(-time.Millisecond), "after the error")
		case 4:
			cancel() // Ctrl-C
		}
	}
	var out, stderr bytes.Buffer
	err := Stream(ctx, Options{Sources: f.sources[1:2], Since: time.Minute, Follow: true, Write: TextWriter(&out), Stderr: &stderr, Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatalf("Stream after Ctrl-C = %v, want nil", err)
	}
	for _, want := range []string{"before the tail", "during poll 1", "late arrival", "after the error"} {
		if n := strings.Count(out.String(), want); n != 1 {
			t.Errorf("%q printed %d times, want once:\n%s", want, n, out.String())
		}
	}
	if !strings.Contains(stderr.String(), "InternalFailure") || !strings.Contains(stderr.String(), "ThrottlingException") {
		t.Errorf("stderr does not note the errors mid-tail:\n%s", stderr.String())
	}
}

func TestGrepAndJSON(t *testing.T) {
	f := newFakes(t)
	at := base.Add(-time.Second)
	f.cw.Put("/aws/lambda/crossfaas-dev-sleuth-request",
		logsfake.CloudWatchEvent{Time: at, Message: lambdaLine(at, "INFO", "webhook accepted", "sid", "SMaaaa")},
		logsfake.CloudWatchEvent{Time: at.Add(time.Millisecond), Message: lambdaLine(at, "INFO", "webhook accepted", "sid", "SMbbbb")},
	)
	clk := &clock{now: base}
	var out bytes.Buffer
	err := Stream(context.Background(), Options{Sources: f.sources[1:2], Since: time.Minute, Grep: "SMbbbb", Write: JSONWriter(&out), Now: clk.Now, Sleep: clk.Sleep})
	if err != nil {
		t.Fatal(err)
	}
	var e Event
	if err := json.Unmarshal(out.Bytes(), &e); err != nil {
		t.Fatalf("output %q is not one JSON event: %v", out.String(), err)
	}
	want := Event{Time: at.Add(time.Millisecond), Cloud: "aws", Function: "sleuth-request", Level: "INFO", Message: "webhook accepted", Correlation: "SMbbbb",
		Fields: map[string]any{"requestId": "8f5c3e2a-0000-4000-8000-000000000001"}}
	if !e.Time.Equal(want.Time) || e.Cloud != want.Cloud || e.Function != want.Function || e.Level != want.Level || e.Message != want.Message || e.Correlation != want.Correlation || e.Fields["requestId"] != want.Fields["requestId"] {
		t.Errorf("event = %+v, want %+v", e, want)
	}
}

func TestTransient(t *testing.T) {
	// The AWS SDK's errors are classified in the tests above, through the
	// real client.
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"canceled", context.Canceled, false},
		{"plain", fmt.Errorf("boom"), false},
		{"body too large", &http.MaxBytesError{}, false},
		{"grpc unavailable", status.Error(codes.Unavailable, "down"), true},
		{"grpc quota", fmt.Errorf("list: %w", status.Error(codes.ResourceExhausted, "quota")), true},
		{"grpc denied", status.Error(codes.PermissionDenied, "no"), false},
		{"grpc bad filter", status.Error(codes.InvalidArgument, "filter"), false},
		{"connection refused", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{"credentials lost mid-tail", fmt.Errorf("get identity: %w", &credentialsError{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Transient(tt.err); got != tt.want {
				t.Errorf("Transient(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}
