// Package rekognition implements sleuth.Faces with Amazon Rekognition
// through aws-sdk-go-v2, turning Rekognition's exceptions for what the user
// sent into the sentinel errors of package sleuth.
package rekognition

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsrek "github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/rekognition/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
)

// API is the part of the Rekognition client Faces uses; *rekognition.Client
// of aws-sdk-go-v2 implements it.
type API interface {
	CreateCollection(ctx context.Context, in *awsrek.CreateCollectionInput, optFns ...func(*awsrek.Options)) (*awsrek.CreateCollectionOutput, error)
	DescribeCollection(ctx context.Context, in *awsrek.DescribeCollectionInput, optFns ...func(*awsrek.Options)) (*awsrek.DescribeCollectionOutput, error)
	IndexFaces(ctx context.Context, in *awsrek.IndexFacesInput, optFns ...func(*awsrek.Options)) (*awsrek.IndexFacesOutput, error)
	SearchFacesByImage(ctx context.Context, in *awsrek.SearchFacesByImageInput, optFns ...func(*awsrek.Options)) (*awsrek.SearchFacesByImageOutput, error)
	ListFaces(ctx context.Context, in *awsrek.ListFacesInput, optFns ...func(*awsrek.Options)) (*awsrek.ListFacesOutput, error)
}

// noResend lets the SDK retry a call that changes things only after an
// error that says the call did nothing (throttling). After any other
// failure (a 5xx, a broken connection, a response whose body broke) the
// change may have happened: sending it again could create or index twice,
// so the error goes to the caller, which reconciles on its retry.
func noResend(o *awsrek.Options) {
	throttled := retry.ThrottleErrorCode{Codes: retry.DefaultThrottleErrorCodes}
	o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
		so.Retryables = []retry.IsErrorRetryable{retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
			if throttled.IsErrorThrottle(err) == aws.TrueTernary {
				return aws.TrueTernary
			}
			return aws.FalseTernary
		})}
	})
}

// Faces is a sleuth.Faces on Rekognition. Errors that are neither the user's
// (the sleuth sentinels) nor ours (invalid ids) are Rekognition's own, e.g.
// throttling, for the caller to retry.
type Faces struct {
	api API
}

var _ sleuth.Faces = (*Faces)(nil)

// New returns Faces calling api.
func New(api API) *Faces { return &Faces{api: api} }

// validID reports whether id follows Rekognition's id syntax: 1 to 255
// letters, digits, '_', '.' and '-', and also ':' when colon is set
// (external image ids). Ids are checked before calling so that a bad id is
// our error, never mistaken for the user's.
//
// A loop rather than a regexp: `[...]{1,255}` compiles to 255 copies of
// the class, which cost every cold start of the sleuth Lambdas about a
// millisecond and 6,700 allocations.
func validID(id string, colon bool) bool {
	if len(id) == 0 || len(id) > 255 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '_', c == '.', c == '-':
		case c == ':' && colon:
		default:
			return false
		}
	}
	return true
}

// CreateCollection creates collectionID, sent once (see noResend);
// created is false when it already existed.
func (f *Faces) CreateCollection(ctx context.Context, collectionID string) (bool, error) {
	if !validID(collectionID, false) {
		return false, fmt.Errorf("rekognition: create collection: invalid id %q", collectionID)
	}
	_, err := f.api.CreateCollection(ctx, &awsrek.CreateCollectionInput{CollectionId: aws.String(collectionID)}, noResend)
	var exists *types.ResourceAlreadyExistsException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exists):
		return false, nil
	default:
		return false, fmt.Errorf("rekognition: create collection %s: %w", collectionID, err)
	}
}

// CollectionCreated returns collectionID's creation time, as
// DescribeCollection reports it (a read, safe to retry). It returns
// sleuth.ErrCollectionNotFound.
func (f *Faces) CollectionCreated(ctx context.Context, collectionID string) (time.Time, error) {
	if !validID(collectionID, false) {
		return time.Time{}, fmt.Errorf("rekognition: describe collection: invalid id %q", collectionID)
	}
	out, err := f.api.DescribeCollection(ctx, &awsrek.DescribeCollectionInput{CollectionId: aws.String(collectionID)})
	if err != nil {
		return time.Time{}, fmt.Errorf("rekognition: describe collection %s: %w", collectionID, userError(err))
	}
	if out.CreationTimestamp == nil {
		return time.Time{}, fmt.Errorf("rekognition: describe collection %s: no creation time in the response", collectionID)
	}
	return *out.CreationTimestamp, nil
}

// IndexFace adds the largest face of image to collectionID under
// externalID, sent once (see noResend). It returns sleuth.ErrNoFace when Rekognition finds no face
// good enough to index (QualityFilter AUTO), sleuth.ErrCollectionNotFound
// and sleuth.ErrBadImage for an image it can't use.
func (f *Faces) IndexFace(ctx context.Context, collectionID, externalID string, image []byte) error {
	if !validID(collectionID, false) {
		return fmt.Errorf("rekognition: index face: invalid collection id %q", collectionID)
	}
	if !validID(externalID, true) {
		return fmt.Errorf("rekognition: index face: invalid external id %q", externalID)
	}
	out, err := f.api.IndexFaces(ctx, &awsrek.IndexFacesInput{
		CollectionId:    aws.String(collectionID),
		ExternalImageId: aws.String(externalID),
		Image:           &types.Image{Bytes: image},
		MaxFaces:        aws.Int32(1),
		QualityFilter:   types.QualityFilterAuto,
	}, noResend)
	if err != nil {
		return fmt.Errorf("rekognition: index face in %s: %w", collectionID, userError(err))
	}
	if len(out.FaceRecords) == 0 {
		return fmt.Errorf("rekognition: index face in %s: %w (%d unindexed)", collectionID, sleuth.ErrNoFace, len(out.UnindexedFaces))
	}
	return nil
}

// listPageSize is the most faces ListFaces returns per page.
const listPageSize = 4096

// FaceIndexed reports whether collectionID holds a face indexed under
// externalID, paging through the collection's faces (a read, safe to
// retry). It returns sleuth.ErrCollectionNotFound.
func (f *Faces) FaceIndexed(ctx context.Context, collectionID, externalID string) (bool, error) {
	if !validID(collectionID, false) || !validID(externalID, true) {
		return false, fmt.Errorf("rekognition: list faces: invalid collection id %q or external id %q", collectionID, externalID)
	}
	in := &awsrek.ListFacesInput{CollectionId: aws.String(collectionID), MaxResults: aws.Int32(listPageSize)}
	for {
		out, err := f.api.ListFaces(ctx, in)
		if err != nil {
			return false, fmt.Errorf("rekognition: list faces of %s: %w", collectionID, userError(err))
		}
		for _, face := range out.Faces {
			if aws.ToString(face.ExternalImageId) == externalID {
				return true, nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return false, nil
		}
		in.NextToken = out.NextToken
	}
}

// SearchFace finds the most similar face to the largest face of image in
// collectionID, at least threshold (0-100) similar. It returns
// sleuth.ErrNoFace, sleuth.ErrNoMatch, sleuth.ErrCollectionNotFound and
// sleuth.ErrBadImage.
func (f *Faces) SearchFace(ctx context.Context, collectionID string, image []byte, threshold float64) (sleuth.Match, error) {
	if !validID(collectionID, false) {
		return sleuth.Match{}, fmt.Errorf("rekognition: search faces: invalid collection id %q", collectionID)
	}
	if !(threshold >= 0 && threshold <= 100) {
		return sleuth.Match{}, fmt.Errorf("rekognition: search faces: threshold %v is outside 0-100", threshold)
	}
	out, err := f.api.SearchFacesByImage(ctx, &awsrek.SearchFacesByImageInput{
		CollectionId:       aws.String(collectionID),
		Image:              &types.Image{Bytes: image},
		FaceMatchThreshold: aws.Float32(float32(threshold)),
		MaxFaces:           aws.Int32(1),
	})
	if err != nil {
		return sleuth.Match{}, fmt.Errorf("rekognition: search faces in %s: %w", collectionID, userError(err))
	}
	var best *types.FaceMatch
	for i, m := range out.FaceMatches {
		if m.Face == nil || m.Similarity == nil {
			continue
		}
		if best == nil || *m.Similarity > *best.Similarity {
			best = &out.FaceMatches[i]
		}
	}
	if best == nil {
		return sleuth.Match{}, fmt.Errorf("rekognition: search faces in %s: %w", collectionID, sleuth.ErrNoMatch)
	}
	return sleuth.Match{
		ExternalID: aws.ToString(best.Face.ExternalImageId),
		Similarity: float64(*best.Similarity),
	}, nil
}

// userError adds the sleuth sentinel to Rekognition's exceptions for what
// the user sent, keeping err in the chain; others are returned as they are.
//
// Every parameter but the image is ours and checked before the call, so an
// InvalidParameterException is about the image: "There are no faces in the
// image" (SearchFacesByImage) or one too small to analyse.
func userError(err error) error {
	var (
		notFound    *types.ResourceNotFoundException
		badFormat   *types.InvalidImageFormatException
		tooLarge    *types.ImageTooLargeException
		invalidArgs *types.InvalidParameterException
	)
	switch {
	case errors.As(err, &notFound):
		return fmt.Errorf("%w: %w", sleuth.ErrCollectionNotFound, err)
	case errors.As(err, &badFormat), errors.As(err, &tooLarge):
		return fmt.Errorf("%w: %w", sleuth.ErrBadImage, err)
	case errors.As(err, &invalidArgs):
		if strings.Contains(strings.ToLower(invalidArgs.ErrorMessage()), "no faces") {
			return fmt.Errorf("%w: %w", sleuth.ErrNoFace, err)
		}
		return fmt.Errorf("%w: %w", sleuth.ErrBadImage, err)
	default:
		return err
	}
}
