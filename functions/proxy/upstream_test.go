package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/labeler/traceparent"
)

func TestHandleUpstreamTimeout(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	tests := []struct {
		name  string
		reply http.HandlerFunc
	}{
		{name: "no headers", reply: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}},
		{name: "body stalls", reply: func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			io.WriteString(w, `{"labels":[`)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labeler := newFakeLabeler(t, tt.reply)
			h := newHandler(t, labeler.URL, nil)
			// A Lambda invocation with 2 s left: the labeler gets 1.5 s,
			// and the proxy answers with the 500 ms margin to spare (at
			// least 200 ms of it, however loaded the machine).
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			deadline, _ := ctx.Deadline()
			resp, err := h.Handle(ctx, detect("imageUri=gs://b/o.jpg"))
			if err != nil {
				t.Fatalf("Handle error = %v, want nil", err)
			}
			if resp.StatusCode != http.StatusGatewayTimeout {
				t.Errorf("status = %d (%s), want 504", resp.StatusCode, resp.Body)
			}
			errorMessage(t, resp)
			if left := time.Until(deadline); left < 200*time.Millisecond {
				t.Errorf("Handle answered %v before the deadline, want at least 200ms (margin %v)", left, DefaultDeadlineMargin)
			}
		})
	}

	t.Run("deadline within the margin", func(t *testing.T) {
		labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[]}`))
		h := newHandler(t, labeler.URL, nil)
		ctx, cancel := context.WithTimeout(context.Background(), DefaultDeadlineMargin/2)
		defer cancel()
		resp, err := h.Handle(ctx, detect("imageUri=gs://b/o.jpg"))
		if err != nil || resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("Handle = %d, %v; want 504, nil", resp.StatusCode, err)
		}
		if got := labeler.calls(); len(got) != 0 {
			t.Errorf("labeler calls = %q, want none", got)
		}
	})
}

func TestHandleUpstreamUnreachable(t *testing.T) {
	closedPort := func(t *testing.T) string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return "http://" + addr + "/"
	}
	hangUp := func(t *testing.T) string {
		labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		return labeler.URL
	}
	tests := []struct {
		name string
		url  func(t *testing.T) string
	}{
		{name: "connection refused", url: closedPort},
		{name: "connection closed without reply", url: hangUp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := handle(t, newHandler(t, tt.url(t), nil), detect("imageUri=gs://b/o.jpg"))
			if resp.StatusCode != http.StatusBadGateway {
				t.Errorf("status = %d (%s), want 502", resp.StatusCode, resp.Body)
			}
			if msg := errorMessage(t, resp); !strings.Contains(msg, "could not be reached") {
				t.Errorf("error = %q, want it to say the labeler could not be reached", msg)
			}
		})
	}
}

func TestHandleUpstreamBodySize(t *testing.T) {
	// jsonOfSize is a JSON string literal of exactly n bytes.
	jsonOfSize := func(n int) string { return `"` + strings.Repeat("a", n-2) + `"` }
	tests := []struct {
		name string
		size int
		want int
	}{
		{name: "at the limit", size: MaxUpstreamBody, want: 200},
		{name: "one byte over", size: MaxUpstreamBody + 1, want: 502},
		{name: "far over", size: 8 * MaxUpstreamBody, want: 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labeler := newFakeLabeler(t, jsonReply(200, jsonOfSize(tt.size)))
			resp := handle(t, newHandler(t, labeler.URL, nil), detect("imageUri=gs://b/o.jpg"))
			if resp.StatusCode != tt.want {
				t.Fatalf("%d-byte reply: status = %d, want %d", tt.size, resp.StatusCode, tt.want)
			}
			if tt.want == 200 && len(resp.Body) != tt.size {
				t.Errorf("%d-byte reply: relayed %d bytes", tt.size, len(resp.Body))
			}
			if tt.want != 200 {
				if msg := errorMessage(t, resp); !strings.Contains(msg, "larger than") {
					t.Errorf("error = %q, want it to mention the size limit", msg)
				}
			}
		})
	}
}

func TestHandleNonJSONReplies(t *testing.T) {
	tests := []struct {
		name           string
		status         int
		contentType    string
		retryAfter     string
		body           string
		want           int
		wantErr        string
		wantRetryAfter string
	}{
		{name: "front end 403 page", status: 403, contentType: "text/html; charset=UTF-8", body: "<html><title>403 Forbidden</title></html>", want: 502, wantErr: "HTTP 403"},
		{name: "front end 404 page", status: 404, contentType: "text/html", body: "<h1>Not Found</h1>", want: 502, wantErr: "HTTP 404"},
		{name: "plain 503", status: 503, contentType: "text/plain", body: "upstream connect error", want: 502, wantErr: "HTTP 503"},
		{name: "200 but html", status: 200, contentType: "text/html", body: "<p>hi</p>", want: 502, wantErr: "not JSON"},
		{name: "json type but broken body", status: 200, contentType: "application/json", body: `{"labels":[`, want: 502, wantErr: "malformed JSON"},
		{name: "empty body", status: 200, contentType: "application/json", body: "", want: 502, wantErr: "an empty body"},
		{name: "no content type and not json", status: 200, contentType: "", body: "ok", want: 502, wantErr: "malformed JSON"},
		{name: "rate limited", status: 429, contentType: "text/html", retryAfter: "7", body: "<p>slow down</p>", want: 429, wantErr: "retry later", wantRetryAfter: "7"},
		{name: "redirect", status: 302, contentType: "text/html", body: "<a>moved</a>", want: 502, wantErr: "HTTP 302"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				if tt.status == 302 {
					w.Header().Set("Location", "https://elsewhere.example.com/")
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			resp := handle(t, newHandler(t, labeler.URL, nil), detect("imageUri=gs://b/o.jpg"))
			if resp.StatusCode != tt.want {
				t.Errorf("labeler %d %s: status = %d, want %d", tt.status, tt.contentType, resp.StatusCode, tt.want)
			}
			if msg := errorMessage(t, resp); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("labeler %d %s: error = %q, want it to contain %q", tt.status, tt.contentType, msg, tt.wantErr)
			}
			if got := resp.Headers["Retry-After"]; got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			if got := labeler.calls(); len(got) != 1 {
				t.Errorf("labeler calls = %q, want exactly one (no redirect followed)", got)
			}
		})
	}
}

func TestHandleLogsOneLinePerInvocation(t *testing.T) {
	labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[]}`))
	var logs bytes.Buffer
	h := newHandler(t, labeler.URL, &logs)

	handle(t, h, detect("imageUri=gs://b/o.jpg"))
	handle(t, h, detect("imageUri=nope"))

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("log lines = %q, want 2", lines)
	}
	var forwarded, rejected map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &forwarded); err != nil {
		t.Fatalf("log line %q is not JSON: %v", lines[0], err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &rejected); err != nil {
		t.Fatalf("log line %q is not JSON: %v", lines[1], err)
	}
	if forwarded["status"] != 200.0 || forwarded["upstreamStatus"] != 200.0 || forwarded["imageUri"] != "gs://b/o.jpg" {
		t.Errorf("log of a forwarded call = %v, want status 200, upstreamStatus 200, imageUri", forwarded)
	}
	if ms, ok := forwarded["upstreamLatencyMs"].(float64); !ok || ms <= 0 {
		t.Errorf("log upstreamLatencyMs = %v, want a positive number", forwarded["upstreamLatencyMs"])
	}
	if rejected["status"] != 400.0 || rejected["reason"] != "bad request" {
		t.Errorf("log of a rejected call = %v, want status 400, reason", rejected)
	}
	if _, ok := rejected["upstreamLatencyMs"]; ok {
		t.Errorf("log of a rejected call has upstreamLatencyMs: %v", rejected)
	}
}

// The proxy sends the labeler a traceparent and logs its trace id, which
// the labeler logs too: one correlation id for the request on both clouds.
func TestHandleSendsAndLogsTheTrace(t *testing.T) {
	var mu sync.Mutex
	var got []string
	labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent"))
		mu.Unlock()
		jsonReply(200, `{"labels":[]}`)(w, r)
	})
	var logs bytes.Buffer
	h := newHandler(t, labeler.URL, &logs)

	handle(t, h, detect("imageUri=gs://b/o.jpg"))
	traced := detect("imageUri=gs://b/o.jpg")
	traced.Headers = map[string]string{"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	handle(t, h, traced)
	handle(t, h, detect("imageUri=nope"))

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(got) != 2 || len(lines) != 3 {
		t.Fatalf("the labeler got %d calls and the log %d lines, want 2 and 3", len(got), len(lines))
	}
	for i := range 2 {
		var line map[string]any
		if err := json.Unmarshal([]byte(lines[i]), &line); err != nil {
			t.Fatal(err)
		}
		id, ok := traceparent.TraceID(got[i])
		if !ok || line["traceId"] != id {
			t.Errorf("call %d: traceparent %q, logged traceId %v: want a valid header whose trace id is logged", i, got[i], line["traceId"])
		}
	}
	if got[1][3:35] != "4bf92f3577b34da6a3ce929d0e0e4736" || got[1][36:52] == "00f067aa0ba902b7" {
		t.Errorf("a caller's trace became %q: want it continued with a new parent id", got[1])
	}
	if got[0][3:35] == got[1][3:35] {
		t.Errorf("two requests share the trace %q", got[0])
	}
	if strings.Contains(lines[2], "traceId") {
		t.Errorf("a request the labeler never saw logs a trace: %s", lines[2])
	}
}

func TestHandleReusesOneConnection(t *testing.T) {
	labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[{"description":"Cat","score":0.9}]}`))
	h := newHandler(t, labeler.URL, nil)
	for i := range 50 {
		if resp := handle(t, h, detect("imageUri=gs://b/o.jpg")); resp.StatusCode != 200 {
			t.Fatalf("call %d: status = %d", i, resp.StatusCode)
		}
	}
	// An error reply must not cost a connection either.
	errLabeler := newFakeLabeler(t, jsonReply(422, `{"error":"not an image"}`))
	eh := newHandler(t, errLabeler.URL, nil)
	for range 20 {
		handle(t, eh, detect("imageUri=gs://b/o.jpg"))
	}
	if got := labeler.newConn.Load(); got != 1 {
		t.Errorf("50 sequential calls opened %d connections, want 1", got)
	}
	if got := errLabeler.newConn.Load(); got != 1 {
		t.Errorf("20 sequential 422 replies opened %d connections, want 1", got)
	}
}

func TestHandleWithoutLabelerURL(t *testing.T) {
	h := New(Config{}, nil, nil)
	resp := handle(t, h, detect("imageUri=gs://b/o.jpg"))
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
	errorMessage(t, resp)
	if resp := handle(t, h, detect("imageUri=nope")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("bad input status = %d, want 400 even when misconfigured", resp.StatusCode)
	}
}

func TestNewDefaults(t *testing.T) {
	u, _ := ParseLabelerURL("http://127.0.0.1:1/")
	h := New(Config{LabelerURL: u}, nil, nil)
	if h.client == nil || h.logger == nil || h.margin != DefaultDeadlineMargin || h.maxUpstream != DefaultMaxUpstreamTimeout {
		t.Errorf("New(cfg, nil, nil) = %+v, want a client, a logger and the default timeouts", h)
	}
}

func TestUpstreamFailureClassifiesClientTimeout(t *testing.T) {
	// A client with its own Timeout fails with a net.Error whose Timeout()
	// is true; that is the labeler being slow too.
	labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	u, _ := ParseLabelerURL(labeler.URL)
	client := NewClient()
	client.Timeout = 50 * time.Millisecond
	h := New(Config{LabelerURL: u}, client, nil)
	resp := handle(t, h, detect(""))
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Errorf("status = %d (%s), want 504", resp.StatusCode, resp.Body)
	}
}

// A presigned URL's signature must not reach the logs.
func TestHandleLogsNoQueryOfTheImageURI(t *testing.T) {
	labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[]}`))
	var logs bytes.Buffer
	h := newHandler(t, labeler.URL, &logs)
	handle(t, h, detect("imageUri="+url.QueryEscape("https://b.s3.amazonaws.com/o.jpg?X-Amz-Signature=SECRET")))
	if strings.Contains(logs.String(), "SECRET") {
		t.Errorf("log = %s, want the image URI's query left out", &logs)
	}
	if !strings.Contains(logs.String(), `"imageUri":"https://b.s3.amazonaws.com/o.jpg?…"`) {
		t.Errorf("log = %s, want the image URI without its query", &logs)
	}
}
