package proxy

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
)

func TestConfigFromEnv(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		unset   bool
		want    string // the parsed URL; "" when an error is expected
		wantErr string // a part of the error message
	}{
		{name: "cloud functions url", value: "https://labeler-abc123-uc.a.run.app", want: "https://labeler-abc123-uc.a.run.app"},
		{name: "loopback http", value: "http://127.0.0.1:8080/", want: "http://127.0.0.1:8080/"},
		{name: "surrounding spaces", value: " https://labeler.example.com \n", want: "https://labeler.example.com"},
		{name: "own query kept", value: "https://labeler.example.com/?key=v", want: "https://labeler.example.com/?key=v"},
		{name: "unset", unset: true, wantErr: "LABELER_URL is not set"},
		{name: "empty", value: "", wantErr: "LABELER_URL is not set"},
		{name: "blank", value: "   ", wantErr: "LABELER_URL is not set"},
		{name: "no scheme", value: "labeler.example.com", wantErr: "scheme must be http or https"},
		{name: "gs scheme", value: "gs://bucket/object", wantErr: "scheme must be http or https"},
		{name: "no host", value: "https:///path", wantErr: "no host"},
		{name: "unparsable", value: "https://[::1", wantErr: "LABELER_URL"},
		{name: "credentials", value: "https://user:pw@labeler.example.com", wantErr: "credentials"},
		{name: "fragment", value: "https://labeler.example.com/#x", wantErr: "fragment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvLabelerURL, tt.value)
			if tt.unset {
				os.Unsetenv(EnvLabelerURL)
			}
			cfg, err := ConfigFromEnv()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), EnvLabelerURL) {
					t.Fatalf("ConfigFromEnv() with %s=%q: error = %v, want one naming %s and containing %q", EnvLabelerURL, tt.value, err, EnvLabelerURL, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ConfigFromEnv() with %s=%q: error = %v", EnvLabelerURL, tt.value, err)
			}
			if got := cfg.LabelerURL.String(); got != tt.want {
				t.Errorf("ConfigFromEnv() with %s=%q: LabelerURL = %q, want %q", EnvLabelerURL, tt.value, got, tt.want)
			}
		})
	}
}

func TestHandlePassesLabelerRepliesThrough(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
	}{
		{name: "labels", status: 200, contentType: "application/json", body: `{"imageUri":"gs://b/cat.jpg","labels":[{"description":"Cat","score":0.98}]}`},
		{name: "labeler rejects input", status: 400, contentType: "application/json", body: `{"error":"imageUri is not a valid URL"}`},
		{name: "image not labelable", status: 422, contentType: "application/json; charset=utf-8", body: `{"error":"the image could not be decoded"}`},
		{name: "labeler upstream failure", status: 502, contentType: "application/json", body: `{"error":"vision: unavailable"}`},
		{name: "problem json", status: 503, contentType: "application/problem+json", body: `{"title":"overloaded"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labeler := newFakeLabeler(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			resp := handle(t, newHandler(t, labeler.URL, nil), detect("imageUri=gs://b/cat.jpg"))
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if resp.Body != tt.body {
				t.Errorf("body = %q, want %q", resp.Body, tt.body)
			}
			if got := resp.Headers["Content-Type"]; got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := labeler.calls(); len(got) != 1 {
				t.Errorf("labeler calls = %q, want exactly one", got)
			}
		})
	}
}

func TestHandleForwardsImageURI(t *testing.T) {
	tests := []struct {
		name     string
		labeler  string // path and query appended to the fake labeler's URL
		path     string
		stage    string
		rawQuery string
		want     string // RawQuery the labeler must see
	}{
		{name: "gs uri", rawQuery: "imageUri=gs://cloud-samples-data/vision/label/wakeupcat.jpg",
			want: "imageUri=gs%3A%2F%2Fcloud-samples-data%2Fvision%2Flabel%2Fwakeupcat.jpg"},
		{name: "uri with its own query and ampersand", rawQuery: "imageUri=" + url.QueryEscape("https://img.example.com/i.jpg?w=100&h=50"),
			want: "imageUri=https%3A%2F%2Fimg.example.com%2Fi.jpg%3Fw%3D100%26h%3D50"},
		{name: "uri with an encoded space", rawQuery: "imageUri=" + url.QueryEscape("https://img.example.com/a%20b.jpg"),
			want: "imageUri=https%3A%2F%2Fimg.example.com%2Fa%2520b.jpg"},
		{name: "unicode path", rawQuery: "imageUri=" + url.QueryEscape("https://img.example.com/ça.jpg"),
			want: "imageUri=https%3A%2F%2Fimg.example.com%2F%C3%A7a.jpg"},
		{name: "no imageUri", rawQuery: "", want: ""},
		{name: "other parameters dropped", rawQuery: "size=big&imageUri=gs://b/o.jpg&debug=1",
			want: "imageUri=gs%3A%2F%2Fb%2Fo.jpg"},
		{name: "only other parameters", rawQuery: "debug=1", want: ""},
		{name: "labeler url query kept", labeler: "/label?region=eu", rawQuery: "imageUri=gs://b/o.jpg",
			want: "imageUri=gs%3A%2F%2Fb%2Fo.jpg&region=eu"},
		{name: "named stage prefix", path: "/dev/detect", stage: "dev", rawQuery: "imageUri=gs://b/o.jpg",
			want: "imageUri=gs%3A%2F%2Fb%2Fo.jpg"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[]}`))
			req := detect(tt.rawQuery)
			if tt.path != "" {
				req.RawPath, req.RequestContext.HTTP.Path = tt.path, tt.path
			}
			if tt.stage != "" {
				req.RequestContext.Stage = tt.stage
			}
			resp := handle(t, newHandler(t, labeler.URL+tt.labeler, nil), req)
			if resp.StatusCode != 200 {
				t.Fatalf("status = %d (%s), want 200", resp.StatusCode, resp.Body)
			}
			got := labeler.calls()
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("GET /detect?%s forwarded query %q, want [%q]", tt.rawQuery, got, tt.want)
			}
		})
	}
}

func TestHandleRejectsBadImageURIWithoutCallingLabeler(t *testing.T) {
	tests := []struct {
		name     string
		rawQuery string
		wantErr  string
	}{
		{name: "empty", rawQuery: "imageUri=", wantErr: "empty"},
		{name: "relative", rawQuery: "imageUri=cat.jpg", wantErr: "absolute URL"},
		{name: "ftp", rawQuery: "imageUri=" + url.QueryEscape("ftp://host/cat.jpg"), wantErr: "not allowed"},
		{name: "space", rawQuery: "imageUri=https://host/a+b.jpg", wantErr: "whitespace"},
		{name: "bucket only", rawQuery: "imageUri=gs://bucket", wantErr: "no object"},
		{name: "credentials", rawQuery: "imageUri=" + url.QueryEscape("https://u:p@host/a.jpg"), wantErr: "credentials"},
		{name: "too long", rawQuery: "imageUri=https://host/" + strings.Repeat("a", imageuri.MaxLength), wantErr: "limit"},
		{name: "repeated", rawQuery: "imageUri=gs://b/1.jpg&imageUri=gs://b/2.jpg", wantErr: "2 times"},
		{name: "bad percent encoding", rawQuery: "imageUri=https://host/%zz.jpg", wantErr: "malformed"},
	}
	labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[]}`))
	h := newHandler(t, labeler.URL, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := handle(t, h, detect(tt.rawQuery))
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("GET /detect?%s status = %d, want 400", tt.rawQuery, resp.StatusCode)
			}
			if msg := errorMessage(t, resp); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("GET /detect?%s error = %q, want it to contain %q", tt.rawQuery, msg, tt.wantErr)
			}
		})
	}
	if got := labeler.calls(); len(got) != 0 {
		t.Errorf("labeler calls = %q, want none", got)
	}
}

func TestHandleRoutes(t *testing.T) {
	tests := []struct {
		name      string
		method    string
		path      string
		want      int
		wantAllow string
	}{
		{name: "root", method: "GET", path: "/", want: 404},
		{name: "sub path", method: "GET", path: "/detect/x", want: 404},
		{name: "case differs", method: "GET", path: "/Detect", want: 404},
		{name: "trailing slash", method: "GET", path: "/detect/", want: 404},
		{name: "unknown path and method", method: "DELETE", path: "/sms", want: 404},
		{name: "post", method: "POST", path: "/detect", want: 405, wantAllow: "GET"},
		{name: "put", method: "PUT", path: "/detect", want: 405, wantAllow: "GET"},
		{name: "head", method: "HEAD", path: "/detect", want: 405, wantAllow: "GET"},
	}
	labeler := newFakeLabeler(t, jsonReply(200, `{"labels":[]}`))
	h := newHandler(t, labeler.URL, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := handle(t, h, lambdatest.HTTPEvent(tt.method, tt.path, "imageUri=gs://b/o.jpg", nil, ""))
			if resp.StatusCode != tt.want {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.path, resp.StatusCode, tt.want)
			}
			errorMessage(t, resp)
			if got := resp.Headers["Allow"]; got != tt.wantAllow {
				t.Errorf("%s %s Allow = %q, want %q", tt.method, tt.path, got, tt.wantAllow)
			}
		})
	}
	if got := labeler.calls(); len(got) != 0 {
		t.Errorf("labeler calls = %q, want none", got)
	}
}
