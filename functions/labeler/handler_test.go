package labeler

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
)

// lockedBuffer collects log lines written by handler goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the complete JSON log lines written so far, decoded.
func (b *lockedBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	complete := b.buf.Bytes()
	complete = complete[:bytes.LastIndexByte(complete, '\n')+1] // a line may still be arriving
	sc := bufio.NewScanner(bytes.NewReader(complete))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

// testServer is the labeler's handler behind a loopback HTTP server, with
// the real Vision client talking to a fake Vision server.
type testServer struct {
	fake *fakeVision
	url  string
	logs *lockedBuffer
}

func newTestServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	fake := startFakeVision(t)
	logs := &lockedBuffer{}
	srv := httptest.NewServer(NewHandler(fake.newAnnotator(t), cfg, newCloudLogger(logs)))
	t.Cleanup(srv.Close)
	return &testServer{fake: fake, url: srv.URL, logs: logs}
}

// reply is an HTTP answer with its body decoded as a JSON object.
type reply struct {
	status      int
	header      http.Header
	raw         string
	json        map[string]any
	contentType string
}

func send(t *testing.T, req *http.Request) reply {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read reply of %s %s: %v", req.Method, req.URL, err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw), contentType: resp.Header.Get("Content-Type")}
	if req.Method != http.MethodHead {
		if err := json.Unmarshal(raw, &r.json); err != nil {
			t.Fatalf("%s %s: reply %q is not a JSON object: %v", req.Method, req.URL, raw, err)
		}
	}
	return r
}

func newRequest(t *testing.T, method, target, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatalf("NewRequest(%q, %q): %v", method, target, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

func queryFor(uri string) string { return "/?" + url.Values{"imageUri": {uri}}.Encode() }

func TestHandlerDefaultImageReply(t *testing.T) {
	ts := newTestServer(t, Config{})

	got := send(t, newRequest(t, http.MethodGet, ts.url+"/", "", ""))

	if got.status != http.StatusOK {
		t.Fatalf("GET / status = %d, want 200; body %s", got.status, got.raw)
	}
	if got.contentType != "application/json" {
		t.Errorf("GET / Content-Type = %q, want %q", got.contentType, "application/json")
	}
	var want map[string]any
	wantJSON := `{
		"imageUri": "` + imageuri.Default + `",
		"defaultImage": true,
		"note": "no imageUri given; labeled the default image ` + imageuri.Default + `",
		"engine": "cloud-vision",
		"labels": [
			{"description": "Cat", "score": 0.99},
			{"description": "Whiskers", "score": 0.93},
			{"description": "Small to medium-sized cats", "score": 0.87}
		],
		"safeSearch": {"adult": "VERY_UNLIKELY", "spoof": "UNLIKELY", "medical": "VERY_UNLIKELY", "violence": "POSSIBLE", "racy": "LIKELY"}
	}`
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.json, want) {
		t.Errorf("GET / = %s\nwant %s", got.raw, wantJSON)
	}
	if uris := ts.fake.imageURIs(); !reflect.DeepEqual(uris, []string{imageuri.Default}) {
		t.Errorf("Vision was asked about %q, want [%q]", uris, imageuri.Default)
	}
}

func TestHandlerLabelsGivenImage(t *testing.T) {
	const (
		gsURI    = "gs://crossfaas-dev-images/photos/cat 2.jpg"
		httpsURI = "https://example.com/img/cat.jpg?size=large&fmt=jpg"
	)
	tests := []struct {
		name        string
		method      string
		target      string // appended to the server URL
		contentType string
		body        string
		wantURI     string // "" means the default image
	}{
		{name: "GET gs", method: http.MethodGet, target: "/?imageUri=gs://crossfaas-dev-images/photos/cat.jpg", wantURI: "gs://crossfaas-dev-images/photos/cat.jpg"},
		{name: "GET https with its own query", method: http.MethodGet, target: queryFor(httpsURI), wantURI: httpsURI},
		{name: "GET upper-case scheme", method: http.MethodGet, target: queryFor("HTTPS://example.com/a.png"), wantURI: "HTTPS://example.com/a.png"},
		{name: "GET ignores other parameters", method: http.MethodGet, target: "/?lang=en&imageUri=gs://b/o.jpg", wantURI: "gs://b/o.jpg"},
		{name: "POST query", method: http.MethodPost, target: queryFor(httpsURI), wantURI: httpsURI},
		{name: "POST form", method: http.MethodPost, target: "/", contentType: "application/x-www-form-urlencoded", body: url.Values{"imageUri": {httpsURI}}.Encode(), wantURI: httpsURI},
		{name: "POST JSON", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri": "` + httpsURI + `"}`, wantURI: httpsURI},
		{name: "POST JSON with charset", method: http.MethodPost, target: "/", contentType: "application/json; charset=utf-8", body: `{"imageUri":"gs://b/o.jpg"}`, wantURI: "gs://b/o.jpg"},
		{name: "POST JSON escaped", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri":"gs://b/caf\u00e9.jpg"}`, wantURI: "gs://b/café.jpg"},
		{name: "POST empty body", method: http.MethodPost, target: "/", contentType: "application/json"},
		{name: "POST JSON without imageUri", method: http.MethodPost, target: "/", contentType: "application/json", body: `{}`},
		{name: "POST JSON null imageUri", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri": null}`},
		{name: "POST form without imageUri", method: http.MethodPost, target: "/", contentType: "application/x-www-form-urlencoded", body: "other=1"},
		{name: "GET encoded space in gs object", method: http.MethodGet, target: "/?imageUri=" + url.QueryEscape(strings.ReplaceAll(gsURI, " ", "%20")), wantURI: strings.ReplaceAll(gsURI, " ", "%20")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{})

			got := send(t, newRequest(t, tt.method, ts.url+tt.target, tt.contentType, tt.body))

			wantURI, wantDefault := tt.wantURI, false
			if wantURI == "" {
				wantURI, wantDefault = imageuri.Default, true
			}
			if got.status != http.StatusOK {
				t.Fatalf("%s %s status = %d, want 200; body %s", tt.method, tt.target, got.status, got.raw)
			}
			if got.json["imageUri"] != wantURI {
				t.Errorf("%s %s imageUri = %q, want %q", tt.method, tt.target, got.json["imageUri"], wantURI)
			}
			if got.json["defaultImage"] != wantDefault {
				t.Errorf("%s %s defaultImage = %v, want %v", tt.method, tt.target, got.json["defaultImage"], wantDefault)
			}
			if _, hasNote := got.json["note"]; hasNote != wantDefault {
				t.Errorf("%s %s has note = %v, want %v; body %s", tt.method, tt.target, hasNote, wantDefault, got.raw)
			}
			if labels, _ := got.json["labels"].([]any); len(labels) != 3 {
				t.Errorf("%s %s labels = %v, want the fake's 3", tt.method, tt.target, got.json["labels"])
			}
			if uris := ts.fake.imageURIs(); !reflect.DeepEqual(uris, []string{wantURI}) {
				t.Errorf("Vision was asked about %q, want [%q]", uris, wantURI)
			}
		})
	}
}

func TestHandlerConfiguredDefaultImage(t *testing.T) {
	const def = "https://images.example.com/default.png"
	ts := newTestServer(t, Config{DefaultImageURI: def})

	got := send(t, newRequest(t, http.MethodGet, ts.url+"/", "", ""))

	if got.status != http.StatusOK {
		t.Fatalf("GET / status = %d, want 200; body %s", got.status, got.raw)
	}
	if got.json["imageUri"] != def || got.json["defaultImage"] != true {
		t.Errorf("GET / = %s, want the configured default %q", got.raw, def)
	}
	if note, _ := got.json["note"].(string); !strings.Contains(note, def) {
		t.Errorf("GET / note = %q, want it to name %q", note, def)
	}
	if uris := ts.fake.imageURIs(); !reflect.DeepEqual(uris, []string{def}) {
		t.Errorf("Vision was asked about %q, want [%q]", uris, def)
	}
}

func TestHandlerRejectsBadRequests(t *testing.T) {
	tooLong := "https://example.com/" + strings.Repeat("a", imageuri.MaxLength)
	tests := []struct {
		name        string
		method      string
		target      string
		contentType string
		body        string
		status      int
		wantErr     string // substring of the "error" field
	}{
		{name: "PUT", method: http.MethodPut, target: "/", status: http.StatusMethodNotAllowed, wantErr: "method PUT is not allowed"},
		{name: "DELETE", method: http.MethodDelete, target: queryFor("gs://b/o.jpg"), status: http.StatusMethodNotAllowed, wantErr: "use GET or POST"},
		{name: "scheme ftp", method: http.MethodGet, target: queryFor("ftp://example.com/cat.jpg"), status: http.StatusBadRequest, wantErr: `scheme "ftp" is not allowed`},
		{name: "scheme file", method: http.MethodGet, target: queryFor("file:///etc/passwd"), status: http.StatusBadRequest, wantErr: `scheme "file" is not allowed`},
		{name: "no scheme", method: http.MethodGet, target: queryFor("example.com/cat.jpg"), status: http.StatusBadRequest, wantErr: "must be an absolute URL"},
		{name: "too long", method: http.MethodGet, target: queryFor(tooLong), status: http.StatusBadRequest, wantErr: "the limit is 2048"},
		{name: "empty host", method: http.MethodGet, target: queryFor("https:///cat.jpg"), status: http.StatusBadRequest, wantErr: "has no host"},
		{name: "gs bucket without object", method: http.MethodGet, target: queryFor("gs://bucket/"), status: http.StatusBadRequest, wantErr: "no object"},
		{name: "whitespace", method: http.MethodGet, target: queryFor("https://example.com/a cat.jpg"), status: http.StatusBadRequest, wantErr: "whitespace"},
		{name: "leading whitespace", method: http.MethodGet, target: queryFor(" https://example.com/cat.jpg"), status: http.StatusBadRequest, wantErr: "whitespace"},
		{name: "control character", method: http.MethodGet, target: queryFor("https://example.com/\x00.jpg"), status: http.StatusBadRequest, wantErr: "control characters"},
		{name: "credentials", method: http.MethodGet, target: queryFor("https://user:pw@example.com/cat.jpg"), status: http.StatusBadRequest, wantErr: "credentials"},
		{name: "empty value", method: http.MethodGet, target: "/?imageUri=", status: http.StatusBadRequest, wantErr: "imageUri is empty"},
		{name: "not UTF-8", method: http.MethodGet, target: "/?imageUri=https://example.com/%FF.jpg", status: http.StatusBadRequest, wantErr: "not valid UTF-8"},
		{name: "given twice", method: http.MethodGet, target: "/?imageUri=gs://b/1.jpg&imageUri=gs://b/2.jpg", status: http.StatusBadRequest, wantErr: "given 2 times in the query string"},
		{name: "malformed query", method: http.MethodGet, target: "/?imageUri=gs://b/%zz.jpg", status: http.StatusBadRequest, wantErr: "query string is malformed"},
		{name: "query and body", method: http.MethodPost, target: queryFor("gs://b/1.jpg"), contentType: "application/json", body: `{"imageUri":"gs://b/2.jpg"}`, status: http.StatusBadRequest, wantErr: "both the query string and the body"},
		{name: "JSON unknown field", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"image_uri":"gs://b/o.jpg"}`, status: http.StatusBadRequest, wantErr: `unknown field "image_uri"`},
		{name: "JSON wrong type", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri":42}`, status: http.StatusBadRequest, wantErr: "expected JSON"},
		{name: "JSON array", method: http.MethodPost, target: "/", contentType: "application/json", body: `["gs://b/o.jpg"]`, status: http.StatusBadRequest, wantErr: "expected JSON"},
		{name: "JSON truncated", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri":"gs://b/o.jpg"`, status: http.StatusBadRequest, wantErr: "expected JSON"},
		{name: "JSON trailing data", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri":"gs://b/o.jpg"} {}`, status: http.StatusBadRequest, wantErr: "data after its JSON object"},
		{name: "JSON invalid uri", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri":"javascript:alert(1)"}`, status: http.StatusBadRequest, wantErr: `scheme "javascript" is not allowed`},
		{name: "form given twice", method: http.MethodPost, target: "/", contentType: "application/x-www-form-urlencoded", body: "imageUri=gs://b/1.jpg&imageUri=gs://b/2.jpg", status: http.StatusBadRequest, wantErr: "given 2 times in the form body"},
		{name: "form malformed", method: http.MethodPost, target: "/", contentType: "application/x-www-form-urlencoded", body: "imageUri=%zz", status: http.StatusBadRequest, wantErr: "form body is malformed"},
		{name: "text body", method: http.MethodPost, target: "/", contentType: "text/plain", body: "gs://b/o.jpg", status: http.StatusUnsupportedMediaType, wantErr: `Content-Type "text/plain" is not supported`},
		{name: "body without Content-Type", method: http.MethodPost, target: "/", body: `{"imageUri":"gs://b/o.jpg"}`, status: http.StatusUnsupportedMediaType, wantErr: "is not supported"},
		{name: "body too large", method: http.MethodPost, target: "/", contentType: "application/json", body: `{"imageUri":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, status: http.StatusRequestEntityTooLarge, wantErr: "larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{})

			got := send(t, newRequest(t, tt.method, ts.url+tt.target, tt.contentType, tt.body))

			if got.status != tt.status {
				t.Errorf("%s %.80s status = %d, want %d; body %s", tt.method, tt.target, got.status, tt.status, got.raw)
			}
			if got.contentType != "application/json" {
				t.Errorf("%s %.80s Content-Type = %q, want %q", tt.method, tt.target, got.contentType, "application/json")
			}
			if msg, _ := got.json["error"].(string); !strings.Contains(msg, tt.wantErr) {
				t.Errorf("%s %.80s error = %q, want it to contain %q", tt.method, tt.target, msg, tt.wantErr)
			}
			if tt.status == http.StatusMethodNotAllowed {
				if allow := got.header.Get("Allow"); allow != "GET, POST" {
					t.Errorf("%s Allow = %q, want %q", tt.method, allow, "GET, POST")
				}
			}
			if n := len(ts.fake.received()); n != 0 {
				t.Errorf("Vision was called %d times for a bad request", n)
			}
		})
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // "" means valid
	}{
		{name: "zero", cfg: Config{}},
		{name: "https default", cfg: Config{DefaultImageURI: "https://example.com/a.jpg", Timeout: time.Second}},
		{name: "bad default", cfg: Config{DefaultImageURI: "ftp://example.com/a.jpg"}, wantErr: `labeler config: default image: imageUri scheme "ftp" is not allowed`},
		{name: "negative timeout", cfg: Config{Timeout: -time.Second}, wantErr: "labeler config: timeout -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if !strings.HasPrefix(got, tt.wantErr) || (tt.wantErr == "") != (err == nil) {
				t.Errorf("%+v.Validate() = %q, want %q", tt.cfg, got, tt.wantErr)
			}
			defer func() {
				if p := recover(); (p != nil) != (err != nil) {
					t.Errorf("NewHandler(%+v) panic = %v, want a panic only for an invalid config", tt.cfg, p)
				}
			}()
			NewHandler(annotatorFunc(nil), tt.cfg, nil)
		})
	}
}
