package labeler

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/translate/apiv3/translatepb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// fakeTranslation is a Cloud Translation v3 gRPC server on a loopback port.
// It records every TranslateText request and answers with a dictionary
// ("Cat" in "es" is "Gato"); unknown words come back as "<lang>:<text>".
// failWith, when set, is returned instead.
type fakeTranslation struct {
	translatepb.UnimplementedTranslationServiceServer

	addr string

	mu       sync.Mutex
	requests []*translatepb.TranslateTextRequest
	failWith error
}

// dictionary is what the fake knows.
var dictionary = map[string]map[string]string{
	"es": {"Cat": "Gato", "Whiskers": "Bigotes", "Small to medium-sized cats": "Gatos pequeños a medianos", "Dog": "Perro"},
	"fr": {"Cat": "Chat", "Whiskers": "Moustaches", "Small to medium-sized cats": "Chats de petite à moyenne taille", "Dog": "Chien"},
}

func startFakeTranslation(t *testing.T) *fakeTranslation {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f := &fakeTranslation{addr: lis.Addr().String()}
	srv := grpc.NewServer()
	translatepb.RegisterTranslationServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return f
}

func (f *fakeTranslation) TranslateText(_ context.Context, req *translatepb.TranslateTextRequest) (*translatepb.TranslateTextResponse, error) {
	f.mu.Lock()
	f.requests = append(f.requests, proto.Clone(req).(*translatepb.TranslateTextRequest))
	failWith := f.failWith
	f.mu.Unlock()
	if failWith != nil {
		return nil, failWith
	}
	if !strings.HasPrefix(req.GetParent(), "projects/") || req.GetTargetLanguageCode() == "" || len(req.GetContents()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "parent, target_language_code and contents are required")
	}
	resp := &translatepb.TranslateTextResponse{}
	for _, text := range req.GetContents() {
		out, ok := dictionary[req.GetTargetLanguageCode()][text]
		if !ok {
			out = req.GetTargetLanguageCode() + ":" + text
		}
		resp.Translations = append(resp.Translations, &translatepb.Translation{TranslatedText: out, Model: "general/nmt"})
	}
	return resp, nil
}

func (f *fakeTranslation) setFailure(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith = err
}

func (f *fakeTranslation) received() []*translatepb.TranslateTextRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*translatepb.TranslateTextRequest(nil), f.requests...)
}

// newTranslator returns a CloudTranslator of project test-project talking
// to the fake.
func (f *fakeTranslation) newTranslator(t *testing.T) *CloudTranslator {
	t.Helper()
	tr, err := NewCloudTranslator(context.Background(), "test-project",
		option.WithEndpoint(f.addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	)
	if err != nil {
		t.Fatalf("NewCloudTranslator: %v", err)
	}
	t.Cleanup(func() {
		if err := tr.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return tr
}
