package gateway

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/crossfaas/crossfaas/internal/dev/lambdaemu"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// capture returns a function that records the event it gets and answers 200.
func capture(got *events.APIGatewayV2HTTPRequest, lc *lambdacontext.LambdaContext) *lambdaemu.Function {
	return lambdaemu.NewFunction("capture", func(ctx context.Context, e events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		*got = e
		if c, ok := lambdacontext.FromContext(ctx); ok {
			*lc = *c
		}
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}, time.Second)
}

func TestEvent(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name       string
		method     string
		target     string
		header     http.Header
		body       string
		route      string
		wantBody   string
		wantBase64 bool
		wantQuery  map[string]string
		wantCookie []string
		wantHeader map[string]string
	}{
		{
			name:   "twilio form post is base64",
			method: "POST", target: "/sms", route: "POST /sms",
			header:     http.Header{"Content-Type": {"application/x-www-form-urlencoded"}, "X-Twilio-Signature": {"abc="}},
			body:       "Body=face+addcol+demo&MessageSid=SM1",
			wantBody:   base64.StdEncoding.EncodeToString([]byte("Body=face+addcol+demo&MessageSid=SM1")),
			wantBase64: true,
			wantHeader: map[string]string{"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": "abc="},
		},
		{
			name:   "json body stays text",
			method: "POST", target: "/sms", route: "POST /sms",
			header:   http.Header{"Content-Type": {"application/json; charset=utf-8"}},
			body:     `{"a":1}`,
			wantBody: `{"a":1}`,
		},
		{
			name:   "query joins repeated parameters",
			method: "GET", target: "/detect?imageUri=http%3A%2F%2Fx%2Fa.jpg&tag=a&tag=b", route: "GET /detect",
			wantQuery: map[string]string{"imageUri": "http://x/a.jpg", "tag": "a,b"},
		},
		{
			name:   "cookies move out of the headers",
			method: "GET", target: "/detect", route: "GET /detect",
			header:     http.Header{"Cookie": {"a=1; b=2"}, "X-Multi": {"x", "y"}},
			wantCookie: []string{"a=1", "b=2"},
			wantHeader: map[string]string{"x-multi": "x,y"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(Config{Now: func() time.Time { return at }}, discard())
			var got events.APIGatewayV2HTTPRequest
			var lc lambdacontext.LambdaContext
			if err := g.Route(tt.route, capture(&got, &lc)); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(tt.method, "http://127.0.0.1:8787"+tt.target, strings.NewReader(tt.body))
			r.RemoteAddr = "127.0.0.1:50000"
			for k, vs := range tt.header {
				r.Header[k] = vs
			}
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != 200 {
				t.Fatalf("status = %d, want 200; body %s", w.Code, w.Body)
			}

			if got.Version != "2.0" || got.RouteKey != tt.route || got.RequestContext.RouteKey != tt.route {
				t.Errorf("version, routeKey = %q, %q, want 2.0, %q", got.Version, got.RouteKey, tt.route)
			}
			path, _, _ := strings.Cut(tt.target, "?")
			if got.RawPath != path || got.RequestContext.HTTP.Path != path {
				t.Errorf("rawPath = %q, want %q", got.RawPath, path)
			}
			if _, q, _ := strings.Cut(tt.target, "?"); got.RawQueryString != q {
				t.Errorf("rawQueryString = %q, want %q", got.RawQueryString, q)
			}
			rc := got.RequestContext
			if rc.Stage != "$default" || rc.DomainName != "127.0.0.1:8787" || rc.HTTP.Method != tt.method ||
				rc.HTTP.SourceIP != "127.0.0.1" || rc.RequestID == "" || rc.APIID == "" || rc.AccountID != lambdaemu.AccountID {
				t.Errorf("requestContext = %+v", rc)
			}
			if rc.TimeEpoch != at.UnixMilli() || rc.Time != "04/Mar/2026:05:06:07 +0000" {
				t.Errorf("time, timeEpoch = %q, %d", rc.Time, rc.TimeEpoch)
			}
			if got.Body != tt.wantBody || got.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("body, isBase64Encoded = %q, %v, want %q, %v", got.Body, got.IsBase64Encoded, tt.wantBody, tt.wantBase64)
			}
			if !reflect.DeepEqual(got.QueryStringParameters, tt.wantQuery) {
				t.Errorf("queryStringParameters = %v, want %v", got.QueryStringParameters, tt.wantQuery)
			}
			if !reflect.DeepEqual(got.Cookies, tt.wantCookie) {
				t.Errorf("cookies = %q, want %q", got.Cookies, tt.wantCookie)
			}
			for k, v := range tt.wantHeader {
				if got.Headers[k] != v {
					t.Errorf("headers[%q] = %q, want %q", k, got.Headers[k], v)
				}
			}
			if _, ok := got.Headers["cookie"]; ok {
				t.Errorf("headers has cookie; API Gateway moves it to cookies")
			}
			for k := range got.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("header %q is not lower-case", k)
				}
			}
			if got.Headers["host"] != "127.0.0.1:8787" || got.Headers["x-forwarded-for"] != "127.0.0.1" ||
				got.Headers["x-forwarded-proto"] != "http" || got.Headers["x-forwarded-port"] != "8787" {
				t.Errorf("forwarding headers = %v", got.Headers)
			}
			if lc.AwsRequestID != rc.RequestID || lc.InvokedFunctionArn != lambdaemu.FunctionARN("capture") {
				t.Errorf("lambda context = %+v, want request id %q", lc, rc.RequestID)
			}
			if w.Header().Get("Apigw-Requestid") != rc.RequestID {
				t.Errorf("apigw-requestid = %q, want %q", w.Header().Get("Apigw-Requestid"), rc.RequestID)
			}
		})
	}
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name        string
		handler     any
		body        string
		timeout     time.Duration
		wantStatus  int
		wantBody    string
		wantHeaders http.Header
	}{
		{
			name: "headers cookies and base64 body",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{
					StatusCode:        201,
					Headers:           map[string]string{"Content-Type": "image/png"},
					MultiValueHeaders: map[string][]string{"X-Many": {"1", "2"}},
					Cookies:           []string{"a=1; Path=/", "b=2"},
					Body:              base64.StdEncoding.EncodeToString([]byte{0x89, 'P', 'N', 'G'}),
					IsBase64Encoded:   true,
				}, nil
			},
			wantStatus:  201,
			wantBody:    "\x89PNG",
			wantHeaders: http.Header{"Content-Type": {"image/png"}, "X-Many": {"1", "2"}, "Set-Cookie": {"a=1; Path=/", "b=2"}},
		},
		{
			name: "twiml text",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"content-type": "text/xml"}, Body: "<Response/>"}, nil
			},
			wantStatus:  200,
			wantBody:    "<Response/>",
			wantHeaders: http.Header{"Content-Type": {"text/xml"}},
		},
		{
			name:        "inferred format for other JSON",
			handler:     func() (map[string]string, error) { return map[string]string{"hello": "world"}, nil },
			wantStatus:  200,
			wantBody:    `{"hello":"world"}`,
			wantHeaders: http.Header{"Content-Type": {"application/json"}},
		},
		{
			name: "function error",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{}, errors.New("boom")
			},
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name:       "panic",
			handler:    func() (events.APIGatewayV2HTTPResponse, error) { panic("kaboom") },
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name: "missing status code",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{Body: "x"}, nil
			},
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name: "bad base64",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "!!", IsBase64Encoded: true}, nil
			},
			wantStatus: 500, wantBody: `{"message":"Internal Server Error"}`,
		},
		{
			name: "integration timeout",
			handler: func(ctx context.Context) (events.APIGatewayV2HTTPResponse, error) {
				<-ctx.Done()
				return events.APIGatewayV2HTTPResponse{}, ctx.Err()
			},
			timeout:    50 * time.Millisecond,
			wantStatus: 503, wantBody: `{"message":"Service Unavailable"}`,
		},
		{
			name: "request over the Lambda payload limit",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
			},
			body:       strings.Repeat("x", 5<<20), // 5 MiB of binary is 6.7 MB in base64
			wantStatus: 413, wantBody: `{"message":"Request Entity Too Large"}`,
		},
		{
			name: "request over the API payload limit",
			handler: func() (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
			},
			body:       strings.Repeat("x", MaxRequestBody+1),
			wantStatus: 413, wantBody: `{"message":"Request Entity Too Large"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(Config{IntegrationTimeout: tt.timeout}, discard())
			if err := g.Route("POST /x", lambdaemu.NewFunction("x", tt.handler, 5*time.Second)); err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest("POST", "/x", strings.NewReader(tt.body))
			r.Header.Set("Content-Type", "application/octet-stream")
			w := httptest.NewRecorder()
			g.ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tt.wantStatus)
			}
			if got := strings.TrimSpace(w.Body.String()); got != tt.wantBody {
				t.Errorf("body = %q, want %q", got, tt.wantBody)
			}
			for k, want := range tt.wantHeaders {
				if got := w.Header().Values(k); !reflect.DeepEqual(got, want) {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestRouting(t *testing.T) {
	ok := func() (events.APIGatewayV2HTTPResponse, error) {
		return events.APIGatewayV2HTTPResponse{StatusCode: 204}, nil
	}
	g := New(Config{}, discard())
	if err := g.Route("POST /sms", lambdaemu.NewFunction("sms", ok, time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := g.Route("POST /sms", lambdaemu.NewFunction("sms", ok, time.Second)); err == nil {
		t.Errorf("Route of a duplicate route key succeeded, want an error")
	}
	for _, bad := range []string{"", "POST", "POST sms", "/sms"} {
		if err := g.Route(bad, lambdaemu.NewFunction("x", ok, time.Second)); err == nil {
			t.Errorf("Route(%q) succeeded, want an error", bad)
		}
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tests := []struct {
		method, path string
		want         int
	}{
		{"POST", "/sms", 204},
		{"GET", "/sms", 404},
		{"POST", "/sms/", 404},
		{"POST", "/nope", 404},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(url.Values{"a": {"b"}}.Encode()))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("%s %s = %d %s, want %d", tt.method, tt.path, resp.StatusCode, body, tt.want)
		}
		if tt.want == 404 && strings.TrimSpace(string(body)) != `{"message":"Not Found"}` {
			t.Errorf("%s %s body = %s, want the HTTP API's Not Found", tt.method, tt.path, body)
		}
	}
}

// TestHosts: with Hosts set, the gateway serves only requests for those
// host names (in any case), and the event's domain name is the one the
// client used; any other host gets API Gateway's 403 and no function runs.
func TestHosts(t *testing.T) {
	var got events.APIGatewayV2HTTPRequest
	var lc lambdacontext.LambdaContext
	g := New(Config{Hosts: []string{"127.0.0.1:8787", "localhost:8787"}}, discard())
	if err := g.Route("POST /sms", capture(&got, &lc)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	defer srv.Close()
	tests := []struct {
		host       string
		wantStatus int
	}{
		{"127.0.0.1:8787", 200},
		{"localhost:8787", 200},
		{"LocalHost:8787", 200},
		{"localhost:8788", 403},
		{"localhost", 403},
		{"evil.example:8787", 403},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			got = events.APIGatewayV2HTTPRequest{}
			req, _ := http.NewRequest("POST", srv.URL+"/sms", strings.NewReader("a=b"))
			req.Host = tt.host
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("POST /sms with Host %q = %d %s, want %d", tt.host, resp.StatusCode, body, tt.wantStatus)
			}
			switch {
			case tt.wantStatus == 403 && strings.TrimSpace(string(body)) != `{"message":"Forbidden"}`:
				t.Errorf("body = %s, want API Gateway's Forbidden", body)
			case tt.wantStatus == 403 && got.RequestContext.RequestID != "":
				t.Errorf("the function ran for host %q", tt.host)
			case tt.wantStatus == 200 && got.RequestContext.DomainName != tt.host:
				t.Errorf("domainName = %q, want the host used, %q", got.RequestContext.DomainName, tt.host)
			}
		})
	}
}
