package labeler

import (
	"context"
	"net"
	"sync"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
)

// fakeVision is a Cloud Vision ImageAnnotator gRPC server on a loopback
// port. It records every BatchAnnotateImages request and answers with
// respond (by default: catLabels for every image).
type fakeVision struct {
	visionpb.UnimplementedImageAnnotatorServer

	addr    string
	respond func(ctx context.Context, req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error)

	mu       sync.Mutex
	requests []*visionpb.BatchAnnotateImagesRequest
}

func startFakeVision(t *testing.T) *fakeVision {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &fakeVision{addr: lis.Addr().String(), respond: answerAll(catAnnotation())}
	srv := grpc.NewServer()
	visionpb.RegisterImageAnnotatorServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return f
}

func (f *fakeVision) BatchAnnotateImages(ctx context.Context, req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
	f.mu.Lock()
	f.requests = append(f.requests, proto.Clone(req).(*visionpb.BatchAnnotateImagesRequest))
	respond := f.respond
	f.mu.Unlock()
	return respond(ctx, req)
}

// setRespond replaces the answer of the fake; tests call it before sending.
func (f *fakeVision) setRespond(fn func(ctx context.Context, req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.respond = fn
}

func (f *fakeVision) received() []*visionpb.BatchAnnotateImagesRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*visionpb.BatchAnnotateImagesRequest(nil), f.requests...)
}

// imageURIs lists the image URI of every single-image request received.
func (f *fakeVision) imageURIs() []string {
	var uris []string
	for _, req := range f.received() {
		for _, r := range req.GetRequests() {
			uris = append(uris, r.GetImage().GetSource().GetImageUri())
		}
	}
	return uris
}

// clientOptions points the real Vision client at the fake.
func (f *fakeVision) clientOptions() []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(f.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// newAnnotator returns a VisionAnnotator talking to the fake.
func (f *fakeVision) newAnnotator(t *testing.T) *VisionAnnotator {
	t.Helper()
	a, err := NewVisionAnnotator(context.Background(), f.clientOptions()...)
	if err != nil {
		t.Fatalf("NewVisionAnnotator: %v", err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return a
}

// answerAll answers every image of a request with resp.
func answerAll(resp *visionpb.AnnotateImageResponse) func(context.Context, *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
	return func(_ context.Context, req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
		out := &visionpb.BatchAnnotateImagesResponse{}
		for range req.GetRequests() {
			out.Responses = append(out.Responses, resp)
		}
		return out, nil
	}
}

// catAnnotation is what Vision says about wakeupcat.jpg (abridged).
func catAnnotation() *visionpb.AnnotateImageResponse {
	return &visionpb.AnnotateImageResponse{
		LabelAnnotations: []*visionpb.EntityAnnotation{
			{Mid: "/m/01yrx", Description: "Cat", Score: 0.99, Topicality: 0.99},
			{Mid: "/m/0307l", Description: "Whiskers", Score: 0.93, Topicality: 0.93},
			{Mid: "/m/01l7qd", Description: "Small to medium-sized cats", Score: 0.87, Topicality: 0.87},
		},
		SafeSearchAnnotation: &visionpb.SafeSearchAnnotation{
			Adult:    visionpb.Likelihood_VERY_UNLIKELY,
			Spoof:    visionpb.Likelihood_UNLIKELY,
			Medical:  visionpb.Likelihood_VERY_UNLIKELY,
			Violence: visionpb.Likelihood_POSSIBLE,
			Racy:     visionpb.Likelihood_LIKELY,
		},
	}
}
