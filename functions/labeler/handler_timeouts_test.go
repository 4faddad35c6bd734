package labeler

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

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
