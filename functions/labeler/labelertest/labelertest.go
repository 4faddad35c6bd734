// Package labelertest serves loopback fakes of the Google services the
// labeler calls, Cloud Vision's ImageAnnotator and Cloud Translation v3,
// as plain gRPC servers for the real clients (LABELER_VISION_ENDPOINT,
// LABELER_TRANSLATION_ENDPOINT), and builds the labeler's handler on them.
// Tests of the labeler's callers (the upload inspector, crossfaas dev) use
// it; the deployed function never imports it.
package labelertest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"cloud.google.com/go/translate/apiv3/translatepb"
	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/crossfaas/crossfaas/functions/labeler"
)

// Vision is a fake ImageAnnotator. By default it answers every image with
// Cat, Whiskers and Felidae and a SafeSearch estimate of VERY_UNLIKELY in
// every category; SetSafeSearch and SetRespond change that.
type Vision struct {
	visionpb.UnimplementedImageAnnotatorServer
	// Addr is the server's host:port.
	Addr string

	mu       sync.Mutex
	safe     *visionpb.SafeSearchAnnotation
	respond  func(*visionpb.AnnotateImageRequest) (*visionpb.AnnotateImageResponse, error)
	requests []*visionpb.AnnotateImageRequest
}

// Translation is a fake TranslationService: it knows a few words in es,
// fr and de and answers "<lang>:<text>" for the rest.
type Translation struct {
	translatepb.UnimplementedTranslationServiceServer
	// Addr is the server's host:port.
	Addr string

	mu       sync.Mutex
	requests []*translatepb.TranslateTextRequest
}

// Dictionary is what the fake Translation knows.
var Dictionary = map[string]map[string]string{
	"es": {"Cat": "Gato", "Whiskers": "Bigotes", "Felidae": "Félidos"},
	"fr": {"Cat": "Chat", "Whiskers": "Moustaches", "Felidae": "Félidés"},
	"de": {"Cat": "Katze", "Whiskers": "Schnurrhaare", "Felidae": "Katzen"},
}

// serve registers and serves a gRPC service on 127.0.0.1 until the test
// ends, returning its address.
func serve(t testing.TB, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("labelertest: listen: %v", err)
	}
	// Vision takes images up to 20 MB; gRPC's default limit is 4 MiB.
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(32 << 20))
	register(srv)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// StartVision starts a fake Vision.
func StartVision(t testing.TB) *Vision {
	t.Helper()
	v := &Vision{safe: Likelihoods(visionpb.Likelihood_VERY_UNLIKELY)}
	v.Addr = serve(t, func(s *grpc.Server) { visionpb.RegisterImageAnnotatorServer(s, v) })
	return v
}

// StartTranslation starts a fake Translation.
func StartTranslation(t testing.TB) *Translation {
	t.Helper()
	tr := &Translation{}
	tr.Addr = serve(t, func(s *grpc.Server) { translatepb.RegisterTranslationServiceServer(s, tr) })
	return tr
}

// Likelihoods is a SafeSearch estimate of l in every category.
func Likelihoods(l visionpb.Likelihood) *visionpb.SafeSearchAnnotation {
	return &visionpb.SafeSearchAnnotation{Adult: l, Spoof: l, Medical: l, Violence: l, Racy: l}
}

// SetSafeSearch sets the estimate of the following answers.
func (v *Vision) SetSafeSearch(s *visionpb.SafeSearchAnnotation) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.safe = s
}

// SetRespond makes fn answer each image (nil restores the default).
func (v *Vision) SetRespond(fn func(*visionpb.AnnotateImageRequest) (*visionpb.AnnotateImageResponse, error)) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.respond = fn
}

// Requests returns the images asked about so far.
func (v *Vision) Requests() []*visionpb.AnnotateImageRequest {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]*visionpb.AnnotateImageRequest(nil), v.requests...)
}

// BatchAnnotateImages answers each image.
func (v *Vision) BatchAnnotateImages(_ context.Context, req *visionpb.BatchAnnotateImagesRequest) (*visionpb.BatchAnnotateImagesResponse, error) {
	out := &visionpb.BatchAnnotateImagesResponse{}
	for _, r := range req.GetRequests() {
		v.mu.Lock()
		v.requests = append(v.requests, r)
		safe, respond := v.safe, v.respond
		v.mu.Unlock()
		if respond != nil {
			resp, err := respond(r)
			if err != nil {
				return nil, err
			}
			out.Responses = append(out.Responses, resp)
			continue
		}
		out.Responses = append(out.Responses, &visionpb.AnnotateImageResponse{
			LabelAnnotations: []*visionpb.EntityAnnotation{
				{Mid: "/m/01yrx", Description: "Cat", Score: 0.98},
				{Mid: "/m/0307l", Description: "Whiskers", Score: 0.93},
				{Mid: "/m/0jbk", Description: "Felidae", Score: 0.9},
			},
			SafeSearchAnnotation: safe,
		})
	}
	return out, nil
}

// TranslateText translates with Dictionary.
func (tr *Translation) TranslateText(_ context.Context, req *translatepb.TranslateTextRequest) (*translatepb.TranslateTextResponse, error) {
	tr.mu.Lock()
	tr.requests = append(tr.requests, req)
	tr.mu.Unlock()
	resp := &translatepb.TranslateTextResponse{}
	for _, text := range req.GetContents() {
		out, ok := Dictionary[req.GetTargetLanguageCode()][text]
		if !ok {
			out = req.GetTargetLanguageCode() + ":" + text
		}
		resp.Translations = append(resp.Translations, &translatepb.Translation{TranslatedText: out})
	}
	return resp, nil
}

// Requests returns the TranslateText requests so far.
func (tr *Translation) Requests() []*translatepb.TranslateTextRequest {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]*translatepb.TranslateTextRequest(nil), tr.requests...)
}

// options points a real client at addr: plain gRPC, no credentials.
func options(addr string) []option.ClientOption {
	return []option.ClientOption{
		option.WithEndpoint(addr),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
}

// Handler returns the labeler's real handler with the real Vision and
// Translation clients talking to v and tr, translating into languages
// (through the instance cache). cfg's other fields are kept.
func Handler(t testing.TB, v *Vision, tr *Translation, cfg labeler.Config, languages ...string) http.Handler {
	t.Helper()
	ctx := context.Background()
	annotator, err := labeler.NewVisionAnnotator(ctx, options(v.Addr)...)
	if err != nil {
		t.Fatalf("labelertest: %v", err)
	}
	t.Cleanup(func() { annotator.Close() })
	if len(languages) > 0 {
		translator, err := labeler.NewCloudTranslator(ctx, "test-project", options(tr.Addr)...)
		if err != nil {
			t.Fatalf("labelertest: %v", err)
		}
		t.Cleanup(func() { translator.Close() })
		cfg.Translator = labeler.NewTranslationCache(translator, 0)
		cfg.Languages = languages
	}
	return labeler.NewHandler(annotator, cfg, slog.New(slog.DiscardHandler))
}

// Words returns the texts of a translation request, joined by commas.
func Words(r *translatepb.TranslateTextRequest) string {
	return r.GetTargetLanguageCode() + ":" + strings.Join(r.GetContents(), ",")
}
