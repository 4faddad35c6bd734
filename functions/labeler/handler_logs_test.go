package labeler

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
)

func TestHandlerLogsOneLinePerRequest(t *testing.T) {
	ts := newTestServer(t, Config{})

	send(t, newRequest(t, http.MethodGet, ts.url+"/", "", ""))
	send(t, newRequest(t, http.MethodGet, ts.url+queryFor("ftp://x/y"), "", ""))
	ts.fake.setRespond(func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		return nil, status.Error(codes.PermissionDenied, "vision api disabled")
	})
	send(t, newRequest(t, http.MethodPost, ts.url+queryFor("gs://b/o.jpg"), "", ""))

	lines := ts.logs.lines(t)
	if len(lines) != 3 {
		t.Fatalf("logged %d lines for 3 requests, want 3: %v", len(lines), lines)
	}
	want := []map[string]any{
		{"severity": "INFO", "message": "detect", "method": "GET", "imageUri": imageuri.Default, "defaultImage": true, "status": float64(200), "labels": float64(3)},
		{"severity": "INFO", "message": "detect", "method": "GET", "imageUri": "ftp://x/y", "defaultImage": false, "status": float64(400), "labels": float64(0)},
		{"severity": "ERROR", "message": "detect", "method": "POST", "imageUri": "gs://b/o.jpg", "defaultImage": false, "status": float64(502), "labels": float64(0)},
	}
	for i, line := range lines {
		for k, v := range want[i] {
			if line[k] != v {
				t.Errorf("log line %d: %s = %v, want %v (line %v)", i, k, line[k], v, line)
			}
		}
		if ms, ok := line["latencyMs"].(float64); !ok || ms < 0 {
			t.Errorf("log line %d: latencyMs = %v, want a non-negative number", i, line["latencyMs"])
		}
		_, hasErr := line["error"]
		if wantErr := i > 0; hasErr != wantErr {
			t.Errorf("log line %d has error = %v, want %v (line %v)", i, hasErr, wantErr, line)
		}
	}
	if e, _ := lines[2]["error"].(string); !strings.Contains(e, "vision api disabled") {
		t.Errorf("log line 2 error = %q, want the upstream detail", e)
	}
}

func TestHandlerLogsTheTraceID(t *testing.T) {
	ts := newTestServer(t, Config{})
	traced := newRequest(t, http.MethodGet, ts.url+"/", "", "")
	traced.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	send(t, traced)
	bad := newRequest(t, http.MethodGet, ts.url+"/", "", "")
	bad.Header.Set("traceparent", "00-00000000000000000000000000000000-00f067aa0ba902b7-01")
	send(t, bad)
	send(t, newRequest(t, http.MethodGet, ts.url+"/", "", ""))

	lines := ts.logs.lines(t)
	if len(lines) != 3 {
		t.Fatalf("logged %d lines for 3 requests, want 3: %v", len(lines), lines)
	}
	if got := lines[0]["traceId"]; got != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("traceId of a traced request = %v, want the trace id of its traceparent", got)
	}
	for i, line := range lines[1:] {
		if got, ok := line["traceId"]; ok {
			t.Errorf("log line %d: traceId = %v for a request without a valid traceparent", i+1, got)
		}
	}
}

// A signed URL's signature must not reach the logs.
func TestHandlerLogsNoQueryOfTheImageURI(t *testing.T) {
	ts := newTestServer(t, Config{})
	send(t, newRequest(t, http.MethodGet, ts.url+queryFor("https://storage.googleapis.com/b/o.jpg?X-Goog-Signature=SECRET"), "", ""))
	lines := ts.logs.lines(t)
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1: %v", len(lines), lines)
	}
	if got, want := lines[0]["imageUri"], "https://storage.googleapis.com/b/o.jpg?…"; got != want {
		t.Errorf("log imageUri = %v, want %v", got, want)
	}
	if s := fmt.Sprint(lines[0]); strings.Contains(s, "SECRET") {
		t.Errorf("log line %s holds the URL's signature", s)
	}
}
