package labeler

import (
	"context"
	"fmt"
	"time"
	"unicode/utf8"

	vision "cloud.google.com/go/vision/v2/apiv1"
	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/option"
	"google.golang.org/grpc/codes"

	"github.com/crossfaas/crossfaas/functions/labeler/imageuri"
)

// MaxLabels is the number of labels asked of Cloud Vision per image.
const MaxLabels = 10

// Retry policy of one annotation. The client library's default retries
// Unavailable with backoff growing to a minute, bounded only by the deadline;
// a caller waiting on an HTTP reply is better served by a few quick retries
// and then a clear 502.
const (
	visionAttempts     = 3
	visionInitialPause = 100 * time.Millisecond
	visionMaxPause     = time.Second
	// visionCallTimeout bounds a call whose context has no deadline.
	visionCallTimeout = time.Minute
)

// VisionAnnotator labels images with Cloud Vision (LABEL_DETECTION and
// SAFE_SEARCH_DETECTION). It is safe for concurrent use.
type VisionAnnotator struct {
	client *vision.ImageAnnotatorClient
}

var _ Annotator = (*VisionAnnotator)(nil)

// NewVisionAnnotator creates the Vision client. Without options it reaches
// vision.googleapis.com with Application Default Credentials; tests and
// emulators pass option.WithEndpoint, option.WithoutAuthentication and an
// insecure gRPC dial option. Close releases the client's connections.
func NewVisionAnnotator(ctx context.Context, opts ...option.ClientOption) (*VisionAnnotator, error) {
	client, err := vision.NewImageAnnotatorClient(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("new vision annotator: %w", err)
	}
	client.CallOptions.BatchAnnotateImages = []gax.CallOption{
		gax.WithTimeout(visionCallTimeout),
		gax.WithRetry(func() gax.Retryer {
			return &attemptLimit{
				left: visionAttempts - 1,
				next: gax.OnCodes([]codes.Code{codes.Unavailable}, gax.Backoff{
					Initial:    visionInitialPause,
					Max:        visionMaxPause,
					Multiplier: 2,
				}),
			}
		}),
	}
	return &VisionAnnotator{client: client}, nil
}

// Close closes the Vision client's connections.
func (v *VisionAnnotator) Close() error {
	if err := v.client.Close(); err != nil {
		return fmt.Errorf("close vision annotator: %w", err)
	}
	return nil
}

// Annotate asks Cloud Vision for the labels and safe-search estimate of the
// image at imageURI, which Vision fetches itself (gs:// or http(s)://).
// A URI that imageuri.Validate refuses, or that is not UTF-8, wraps
// ErrUnusableImage without a call. So does a per-image error reported by
// Vision (the image cannot be fetched or decoded), except the server-side
// codes Internal and ResourceExhausted, which are upstream failures like an
// RPC error. A per-image Unavailable is Vision failing to fetch the caller's
// URL ("We can not access the URL currently"), not Vision being down: the RPC
// itself succeeded. Unavailable RPCs are retried twice.
func (v *VisionAnnotator) Annotate(ctx context.Context, imageURI string) (*Annotation, error) {
	if err := imageuri.Validate(imageURI); err != nil {
		return nil, fmt.Errorf("annotate: %w: %w", ErrUnusableImage, err)
	}
	if !utf8.ValidString(imageURI) {
		// A protobuf string must be UTF-8: the client would fail to marshal.
		return nil, fmt.Errorf("annotate: %w: imageUri is not valid UTF-8", ErrUnusableImage)
	}
	return v.annotate(ctx, imageURI, &visionpb.Image{Source: &visionpb.ImageSource{ImageUri: imageURI}})
}

// AnnotateContent asks Cloud Vision for the labels and safe-search estimate
// of an image sent as bytes, in the same single request as Annotate: one
// BatchAnnotateImages call with LABEL_DETECTION and SAFE_SEARCH_DETECTION.
// An image Vision cannot decode wraps ErrUnusableImage.
func (v *VisionAnnotator) AnnotateContent(ctx context.Context, content []byte) (*Annotation, error) {
	if len(content) == 0 {
		return nil, fmt.Errorf("annotate content: %w: the image is empty", ErrUnusableImage)
	}
	return v.annotate(ctx, fmt.Sprintf("%d bytes", len(content)), &visionpb.Image{Content: content})
}

// annotate makes the one Vision call for image; what names the image in
// errors.
func (v *VisionAnnotator) annotate(ctx context.Context, what string, image *visionpb.Image) (*Annotation, error) {
	resp, err := v.client.BatchAnnotateImages(ctx, &visionpb.BatchAnnotateImagesRequest{
		Requests: []*visionpb.AnnotateImageRequest{{
			Image: image,
			Features: []*visionpb.Feature{
				{Type: visionpb.Feature_LABEL_DETECTION, MaxResults: MaxLabels},
				{Type: visionpb.Feature_SAFE_SEARCH_DETECTION},
			},
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("annotate %s: cloud vision: %w", what, err)
	}
	if n := len(resp.GetResponses()); n != 1 {
		return nil, fmt.Errorf("annotate %s: cloud vision answered %d responses for 1 image", what, n)
	}
	r := resp.GetResponses()[0]
	if st := r.GetError(); st != nil && codes.Code(st.GetCode()) != codes.OK {
		code := codes.Code(st.GetCode())
		switch code {
		case codes.Internal, codes.ResourceExhausted:
			return nil, fmt.Errorf("annotate %s: cloud vision failed on the image: %s (%s)", what, st.GetMessage(), code)
		}
		return nil, fmt.Errorf("%w: cloud vision: %s (%s)", ErrUnusableImage, st.GetMessage(), code)
	}

	a := &Annotation{Engine: EngineCloudVision, Labels: make([]Label, 0, len(r.GetLabelAnnotations()))}
	for _, l := range r.GetLabelAnnotations() {
		a.Labels = append(a.Labels, Label{Description: l.GetDescription(), Score: l.GetScore()})
	}
	if s := r.GetSafeSearchAnnotation(); s != nil {
		a.SafeSearch = &SafeSearch{
			Adult:    s.GetAdult().String(),
			Spoof:    s.GetSpoof().String(),
			Medical:  s.GetMedical().String(),
			Violence: s.GetViolence().String(),
			Racy:     s.GetRacy().String(),
		}
	}
	return a, nil
}

// attemptLimit stops retrying after left retries; next decides which errors
// are retried and how long to pause.
type attemptLimit struct {
	left int
	next gax.Retryer
}

func (r *attemptLimit) Retry(err error) (time.Duration, bool) {
	if r.left <= 0 {
		return 0, false
	}
	r.left--
	return r.next.Retry(err)
}
