package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

// fakeLabeler is an httptest labeler that records the queries it receives.
type fakeLabeler struct {
	*httptest.Server
	mu      sync.Mutex
	queries []string // RawQuery of every request, in order
	newConn atomic.Int32
}

// newFakeLabeler starts a labeler answering with reply and closes it when
// the test ends.
func newFakeLabeler(t testing.TB, reply http.HandlerFunc) *fakeLabeler {
	t.Helper()
	return newFakeLabelerBehind(t, nil, reply)
}

// newFakeLabelerBehind starts a labeler answering with reply behind
// front(url, labeler), where url is the labeler's own URL (front nil: none),
// and closes it when the test ends. Only the requests that pass the front
// are recorded.
func newFakeLabelerBehind(t testing.TB, front func(url string, next http.Handler) http.Handler, reply http.HandlerFunc) *fakeLabeler {
	t.Helper()
	f := &fakeLabeler{}
	var h http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.queries = append(f.queries, r.URL.RawQuery)
		f.mu.Unlock()
		reply(w, r)
	})
	f.Server = httptest.NewUnstartedServer(nil)
	if front != nil {
		h = front("http://"+f.Listener.Addr().String(), h)
	}
	f.Config.Handler = h
	f.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			f.newConn.Add(1)
		}
	}
	f.Start()
	t.Cleanup(f.Close)
	return f
}

// calls returns the raw queries the labeler received.
func (f *fakeLabeler) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

// jsonReply answers status with body as application/json.
func jsonReply(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// newHandler returns a Handler for the labeler at rawURL with a real client
// and a logger writing into logs (nil: discard).
func newHandler(t testing.TB, rawURL string, logs io.Writer) *Handler {
	t.Helper()
	u, err := ParseLabelerURL(rawURL)
	if err != nil {
		t.Fatalf("ParseLabelerURL(%q) = %v", rawURL, err)
	}
	var logger *slog.Logger
	if logs != nil {
		logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	return New(Config{LabelerURL: u}, NewClient(), logger)
}

// detect is GET /detect?rawQuery as API Gateway sends it.
func detect(rawQuery string) events.APIGatewayV2HTTPRequest {
	return lambdatest.HTTPEvent(http.MethodGet, "/detect", rawQuery, nil, "")
}

// handle calls h.Handle with a Lambda-like deadline and fails the test on a
// non-nil error, which Handle must never return.
func handle(t testing.TB, h *Handler, req events.APIGatewayV2HTTPRequest) events.APIGatewayV2HTTPResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := h.Handle(ctx, req)
	if err != nil {
		t.Fatalf("Handle(%s %s?%s) error = %v, want nil", req.RequestContext.HTTP.Method, req.RawPath, req.RawQueryString, err)
	}
	return resp
}

// errorMessage returns the "error" field of a proxy error body, failing the
// test when the body is not such an object.
func errorMessage(t testing.TB, resp events.APIGatewayV2HTTPResponse) string {
	t.Helper()
	if ct := resp.Headers["Content-Type"]; ct != "application/json" {
		t.Errorf("Content-Type = %q, want %q", ct, "application/json")
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &body); err != nil || body.Error == "" {
		t.Fatalf("body = %q, want a JSON object with a non-empty error (%v)", resp.Body, err)
	}
	return body.Error
}
