package labeler

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

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

func TestHandlerVisionFailures(t *testing.T) {
	perImage := func(code codes.Code, msg string) func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		return answerAll(&visionpb.AnnotateImageResponse{Error: &rpcstatus.Status{Code: int32(code), Message: msg}})
	}
	rpcError := func(code codes.Code) func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		return func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
			return nil, status.Error(code, "fake failure with internal details")
		}
	}
	tests := []struct {
		name    string
		target  string
		respond func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error)
		status  int
		wantErr string
	}{
		{name: "not an image", target: queryFor("https://example.com/notes.txt"), respond: perImage(codes.InvalidArgument, "Bad image data."), status: http.StatusUnprocessableEntity, wantErr: "image cannot be analysed: cloud vision: Bad image data."},
		{name: "not reachable", target: queryFor("https://example.com/gone.jpg"), respond: perImage(codes.PermissionDenied, "The URL does not appear to be accessible by us."), status: http.StatusUnprocessableEntity, wantErr: "not appear to be accessible"},
		{name: "url not fetchable", target: queryFor("https://example.com/gone.jpg"), respond: perImage(codes.Unavailable, "We can not access the URL currently. Please download the content and pass it in."), status: http.StatusUnprocessableEntity, wantErr: "We can not access the URL currently"},
		{name: "default image unusable", target: "/", respond: perImage(codes.NotFound, "No such object."), status: http.StatusInternalServerError, wantErr: "the default image cannot be analysed"},
		{name: "per-image internal error", target: queryFor("gs://b/o.jpg"), respond: perImage(codes.Internal, "backend error"), status: http.StatusBadGateway, wantErr: "image analysis failed upstream"},
		{name: "unavailable", target: queryFor("gs://b/o.jpg"), respond: rpcError(codes.Unavailable), status: http.StatusBadGateway, wantErr: "image analysis failed upstream (Unavailable)"},
		{name: "permission denied", target: queryFor("gs://b/o.jpg"), respond: rpcError(codes.PermissionDenied), status: http.StatusBadGateway, wantErr: "(PermissionDenied)"},
		{name: "quota", target: queryFor("gs://b/o.jpg"), respond: rpcError(codes.ResourceExhausted), status: http.StatusBadGateway, wantErr: "(ResourceExhausted)"},
		{name: "server-side deadline", target: queryFor("gs://b/o.jpg"), respond: rpcError(codes.DeadlineExceeded), status: http.StatusGatewayTimeout, wantErr: "did not finish within"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t, Config{})
			ts.fake.setRespond(tt.respond)

			got := send(t, newRequest(t, http.MethodGet, ts.url+tt.target, "", ""))

			if got.status != tt.status {
				t.Errorf("GET %s status = %d, want %d; body %s", tt.target, got.status, tt.status, got.raw)
			}
			msg, _ := got.json["error"].(string)
			if !strings.Contains(msg, tt.wantErr) {
				t.Errorf("GET %s error = %q, want it to contain %q", tt.target, msg, tt.wantErr)
			}
			if strings.Contains(got.raw, "internal details") {
				t.Errorf("GET %s leaks the upstream message: %s", tt.target, got.raw)
			}
			if got.json["imageUri"] == nil {
				t.Errorf("GET %s error reply %s does not name the image", tt.target, got.raw)
			}
		})
	}
}

func TestHandlerTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := newTestServer(t, Config{Timeout: timeout})
	serverSawCancel := make(chan struct{})
	ts.fake.setRespond(func(ctx context.Context, _ *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		select {
		case <-ctx.Done():
			close(serverSawCancel)
			return nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return nil, status.Error(codes.Internal, "the deadline was not propagated")
		}
	})

	start := time.Now()
	got := send(t, newRequest(t, http.MethodGet, ts.url+queryFor("gs://b/slow.jpg"), "", ""))
	elapsed := time.Since(start)

	if got.status != http.StatusGatewayTimeout {
		t.Errorf("GET slow image status = %d, want 504; body %s", got.status, got.raw)
	}
	if msg, _ := got.json["error"].(string); !strings.Contains(msg, "within 300ms") {
		t.Errorf("GET slow image error = %q, want it to name the 300ms limit", msg)
	}
	if elapsed < timeout || elapsed > timeout+3*time.Second {
		t.Errorf("GET slow image took %v, want about %v", elapsed, timeout)
	}
	select {
	case <-serverSawCancel:
	case <-time.After(5 * time.Second):
		t.Error("Vision never saw the deadline pass")
	}
}

// annotatorFunc adapts a function to Annotator.
type annotatorFunc func(ctx context.Context, imageURI string) (*Annotation, error)

func (f annotatorFunc) Annotate(ctx context.Context, imageURI string) (*Annotation, error) {
	return f(ctx, imageURI)
}

// AnnotateContent calls f with the image's size for a URI.
func (f annotatorFunc) AnnotateContent(ctx context.Context, content []byte) (*Annotation, error) {
	return f(ctx, fmt.Sprintf("%d bytes", len(content)))
}

func TestHandlerOtherAnnotators(t *testing.T) {
	offline := &Annotation{
		Engine: EngineOffline,
		Facts:  &ImageFacts{Format: "jpeg", Width: 640, Height: 480, Bytes: 51234, DominantColors: []string{"#aabbcc"}, Faces: 1},
		Note:   "offline: facts computed from the image, not Cloud Vision labels",
	}
	tests := []struct {
		name      string
		annotator annotatorFunc
		status    int
		wantBody  string // JSON, compared structurally
		wantLog   string // substring of the log line's error
	}{
		{
			name:      "offline annotation",
			annotator: func(context.Context, string) (*Annotation, error) { return offline, nil },
			status:    http.StatusOK,
			wantBody: `{"imageUri":"gs://b/o.jpg","defaultImage":false,"engine":"offline","labels":[],
				"facts":{"format":"jpeg","width":640,"height":480,"bytes":51234,"dominantColors":["#aabbcc"],"faces":1},
				"engineNote":"offline: facts computed from the image, not Cloud Vision labels"}`,
		},
		{
			name: "unusable image from another engine",
			annotator: func(context.Context, string) (*Annotation, error) {
				return nil, fmt.Errorf("decode: %w", ErrUnusableImage)
			},
			status:   http.StatusUnprocessableEntity,
			wantBody: `{"error":"decode: image cannot be analysed","imageUri":"gs://b/o.jpg"}`,
			wantLog:  "decode: image cannot be analysed",
		},
		{
			name:      "plain error",
			annotator: func(context.Context, string) (*Annotation, error) { return nil, errors.New("disk on fire") },
			status:    http.StatusBadGateway,
			wantBody:  `{"error":"image analysis failed upstream","imageUri":"gs://b/o.jpg"}`,
			wantLog:   "disk on fire",
		},
		{
			name:      "nil annotation",
			annotator: func(context.Context, string) (*Annotation, error) { return nil, nil },
			status:    http.StatusBadGateway,
			wantBody:  `{"error":"image analysis failed upstream","imageUri":"gs://b/o.jpg"}`,
			wantLog:   "no annotation and no error",
		},
		{
			name:      "panic",
			annotator: func(context.Context, string) (*Annotation, error) { panic("index out of range") },
			status:    http.StatusInternalServerError,
			wantBody:  `{"error":"internal error"}`,
			wantLog:   "panic: index out of range",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			srv := httptest.NewServer(NewHandler(tt.annotator, Config{}, newCloudLogger(logs)))
			defer srv.Close()

			got := send(t, newRequest(t, http.MethodGet, srv.URL+queryFor("gs://b/o.jpg"), "", ""))

			if got.status != tt.status {
				t.Errorf("GET status = %d, want %d; body %s", got.status, tt.status, got.raw)
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(tt.wantBody), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.json, want) {
				t.Errorf("GET = %s, want %s", got.raw, tt.wantBody)
			}
			lines := logs.lines(t)
			if len(lines) != 1 {
				t.Fatalf("logged %d lines, want 1", len(lines))
			}
			if errMsg, _ := lines[0]["error"].(string); !strings.Contains(errMsg, tt.wantLog) {
				t.Errorf("logged error = %q, want it to contain %q", errMsg, tt.wantLog)
			}
		})
	}
}

func TestHandlerRequestContextEnds(t *testing.T) {
	expired := func() (context.Context, context.CancelFunc) {
		// As funcframework does with CLOUD_RUN_TIMEOUT_SECONDS.
		return context.WithTimeout(context.Background(), -time.Second)
	}
	cancelled := func() (context.Context, context.CancelFunc) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		return ctx, cancel
	}
	tests := []struct {
		name   string
		ctx    func() (context.Context, context.CancelFunc)
		status int
	}{
		{name: "caller went away", ctx: cancelled, status: statusClientClosedRequest},
		{name: "platform deadline passed", ctx: expired, status: http.StatusGatewayTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &lockedBuffer{}
			h := NewHandler(annotatorFunc(func(ctx context.Context, _ string) (*Annotation, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}), Config{}, newCloudLogger(logs))
			ctx, cancel := tt.ctx()
			defer cancel()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, queryFor("gs://b/o.jpg"), nil)
			rec := httptest.NewRecorder()

			h.ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if lines := logs.lines(t); len(lines) != 1 || lines[0]["status"] != float64(tt.status) {
				t.Errorf("logged %v, want one line with status %d", lines, tt.status)
			}
		})
	}
}

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
