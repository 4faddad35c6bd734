package labeler

import (
	"context"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

func TestVisionAnnotatorRequestAndAnnotation(t *testing.T) {
	fake := startFakeVision(t)
	a := fake.newAnnotator(t)

	const uri = "gs://crossfaas-test/photos/cat.jpg"
	got, err := a.Annotate(context.Background(), uri)
	if err != nil {
		t.Fatalf("Annotate(%q): %v", uri, err)
	}

	want := &visionpb.BatchAnnotateImagesRequest{
		Requests: []*visionpb.AnnotateImageRequest{{
			Image: &visionpb.Image{Source: &visionpb.ImageSource{ImageUri: uri}},
			Features: []*visionpb.Feature{
				{Type: visionpb.Feature_LABEL_DETECTION, MaxResults: MaxLabels},
				{Type: visionpb.Feature_SAFE_SEARCH_DETECTION},
			},
		}},
	}
	reqs := fake.received()
	if len(reqs) != 1 {
		t.Fatalf("fake received %d requests, want 1", len(reqs))
	}
	if !proto.Equal(reqs[0], want) {
		t.Errorf("Vision received\n%s\nwant\n%s", prototext.Format(reqs[0]), prototext.Format(want))
	}

	wantAnn := &Annotation{
		Engine: EngineCloudVision,
		Labels: []Label{
			{Description: "Cat", Score: 0.99},
			{Description: "Whiskers", Score: 0.93},
			{Description: "Small to medium-sized cats", Score: 0.87},
		},
		SafeSearch: &SafeSearch{
			Adult:    "VERY_UNLIKELY",
			Spoof:    "UNLIKELY",
			Medical:  "VERY_UNLIKELY",
			Violence: "POSSIBLE",
			Racy:     "LIKELY",
		},
	}
	if !reflect.DeepEqual(got, wantAnn) {
		t.Errorf("Annotate(%q) = %+v, want %+v", uri, got, wantAnn)
	}
}

func TestVisionAnnotatorNoLabels(t *testing.T) {
	fake := startFakeVision(t)
	fake.setRespond(answerAll(&visionpb.AnnotateImageResponse{}))
	a := fake.newAnnotator(t)

	got, err := a.Annotate(context.Background(), "https://example.com/blank.png")
	if err != nil {
		t.Fatalf("Annotate: %v", err)
	}
	if got.Labels == nil || len(got.Labels) != 0 {
		t.Errorf("Labels = %#v, want an empty non-nil slice", got.Labels)
	}
	if got.SafeSearch != nil {
		t.Errorf("SafeSearch = %+v, want nil when Vision sends none", got.SafeSearch)
	}
}

func TestVisionAnnotatorErrors(t *testing.T) {
	perImage := func(code codes.Code, msg string) func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		return answerAll(&visionpb.AnnotateImageResponse{Error: &rpcstatus.Status{Code: int32(code), Message: msg}})
	}
	rpcError := func(code codes.Code) func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		return func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
			return nil, status.Error(code, "fake says no")
		}
	}
	tests := []struct {
		name     string
		uri      string
		respond  func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error)
		unusable bool
		code     codes.Code // of the RPC error, when not unusable
		calls    int
	}{
		{name: "bad image data", uri: "https://example.com/notes.txt", respond: perImage(codes.InvalidArgument, "Bad image data."), unusable: true, calls: 1},
		{name: "url not accessible", uri: "https://example.com/private.jpg", respond: perImage(codes.PermissionDenied, "The URL does not appear to be accessible by us."), unusable: true, calls: 1},
		{name: "url fetch timed out", uri: "https://example.com/slow.jpg", respond: perImage(codes.DeadlineExceeded, "We can not access the URL currently."), unusable: true, calls: 1},
		// What Vision answers for a URL it cannot fetch (a dead or blocking host).
		{name: "url not fetchable", uri: "https://example.com/gone.jpg", respond: perImage(codes.Unavailable, "We can not access the URL currently. Please download the content and pass it in."), unusable: true, calls: 1},
		{name: "per-image internal error is upstream", uri: "gs://b/o.jpg", respond: perImage(codes.Internal, "oops"), code: codes.Unknown, calls: 1},
		{name: "invalid uri never sent", uri: "ftp://example.com/a.jpg", unusable: true, calls: 0},
		{name: "non-UTF-8 uri never sent", uri: "gs://b/\xff.jpg", unusable: true, calls: 0},
		{name: "unavailable retried then given up", uri: "gs://b/o.jpg", respond: rpcError(codes.Unavailable), code: codes.Unavailable, calls: visionAttempts},
		{name: "permission denied not retried", uri: "gs://b/o.jpg", respond: rpcError(codes.PermissionDenied), code: codes.PermissionDenied, calls: 1},
		{name: "quota not retried", uri: "gs://b/o.jpg", respond: rpcError(codes.ResourceExhausted), code: codes.ResourceExhausted, calls: 1},
		{name: "wrong response count", uri: "gs://b/o.jpg", respond: func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
			return &visionpb.BatchAnnotateImagesResponse{}, nil
		}, code: codes.Unknown, calls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := startFakeVision(t)
			if tt.respond != nil {
				fake.setRespond(tt.respond)
			}
			a := fake.newAnnotator(t)

			got, err := a.Annotate(context.Background(), tt.uri)
			if err == nil {
				t.Fatalf("Annotate(%q) = %+v, want an error", tt.uri, got)
			}
			if errors.Is(err, ErrUnusableImage) != tt.unusable {
				t.Errorf("Annotate(%q) error %q: errors.Is(err, ErrUnusableImage) = %v, want %v", tt.uri, err, !tt.unusable, tt.unusable)
			}
			if !tt.unusable {
				if c := status.Code(err); c != tt.code {
					t.Errorf("Annotate(%q) error %q has code %v, want %v", tt.uri, err, c, tt.code)
				}
			}
			if n := len(fake.received()); n != tt.calls {
				t.Errorf("Annotate(%q) made %d calls, want %d", tt.uri, n, tt.calls)
			}
		})
	}
}

func TestVisionAnnotatorRetriesUnavailable(t *testing.T) {
	fake := startFakeVision(t)
	var calls atomic.Int32
	fake.setRespond(func(ctx context.Context, req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		if calls.Add(1) < visionAttempts {
			return nil, status.Error(codes.Unavailable, "warming up")
		}
		return answerAll(catAnnotation())(ctx, req)
	})
	a := fake.newAnnotator(t)

	got, err := a.Annotate(context.Background(), "gs://b/cat.jpg")
	if err != nil {
		t.Fatalf("Annotate after %d Unavailable: %v", visionAttempts-1, err)
	}
	if len(got.Labels) != 3 {
		t.Errorf("Annotate returned %d labels, want 3", len(got.Labels))
	}
	for i, req := range fake.received() {
		if !proto.Equal(req, fake.received()[0]) {
			t.Errorf("retry %d sent a different request: %v", i, req)
		}
	}
}

func TestVisionAnnotatorRespectsDeadline(t *testing.T) {
	fake := startFakeVision(t)
	serverSawCancel := make(chan struct{})
	fake.setRespond(func(ctx context.Context, _ *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		select {
		case <-ctx.Done():
			close(serverSawCancel)
			return nil, ctx.Err()
		case <-time.After(30 * time.Second):
			return nil, status.Error(codes.Internal, "the deadline was not propagated")
		}
	})
	a := fake.newAnnotator(t)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Annotate(ctx, "gs://b/slow.jpg")
	elapsed := time.Since(start)
	if status.Code(err) != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Annotate error = %v, want a deadline error", err)
	}
	if elapsed > 5*time.Second {
		t.Errorf("Annotate took %v with a 200ms deadline", elapsed)
	}
	select {
	case <-serverSawCancel:
	case <-time.After(5 * time.Second):
		t.Error("the fake never saw the call's deadline pass")
	}
}
