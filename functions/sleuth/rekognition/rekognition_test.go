package rekognition_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	awsrek "github.com/aws/aws-sdk-go-v2/service/rekognition"
	"github.com/aws/aws-sdk-go-v2/service/rekognition/types"

	"github.com/crossfaas/crossfaas/functions/sleuth"
	"github.com/crossfaas/crossfaas/functions/sleuth/internal/awsfake"
	"github.com/crossfaas/crossfaas/functions/sleuth/rekognition"
)

const celebs = "crossfaas-dev-celebs"

func setup(t *testing.T) (*rekognition.Faces, *awsfake.Rekognition) {
	t.Helper()
	cloud := awsfake.NewCloud()
	t.Cleanup(cloud.Close)
	return rekognition.New(awsrek.NewFromConfig(cloud.Config())), cloud.Rekognition
}

func TestCreateCollection(t *testing.T) {
	faces, fake := setup(t)
	ctx := context.Background()
	for i, want := range []bool{true, false} {
		created, err := faces.CreateCollection(ctx, celebs)
		if err != nil {
			t.Fatalf("CreateCollection(%q) #%d error = %v", celebs, i+1, err)
		}
		if created != want {
			t.Errorf("CreateCollection(%q) #%d = %v, want %v", celebs, i+1, created, want)
		}
	}
	if _, ok := fake.Faces(celebs); !ok {
		t.Errorf("collection %q not created in the fake", celebs)
	}
}

func TestIndexFace(t *testing.T) {
	tests := []struct {
		name       string
		collection string
		image      []byte
		fault      string
		wantErr    error // nil: success
		wantCalls  int
	}{
		{name: "jpeg face", collection: celebs, image: awsfake.FaceJPEG("mel"), wantCalls: 1},
		{name: "png face", collection: celebs, image: awsfake.FacePNG("mel"), wantCalls: 1},
		{name: "no face", collection: celebs, image: awsfake.FaceJPEG(""), wantErr: sleuth.ErrNoFace, wantCalls: 1},
		{name: "unknown collection", collection: "crossfaas-dev-nope", image: awsfake.FaceJPEG("mel"), wantErr: sleuth.ErrCollectionNotFound, wantCalls: 1},
		{name: "undecodable image", collection: celebs, image: awsfake.CorruptJPEG(), wantErr: sleuth.ErrBadImage, wantCalls: 1},
		{name: "image too large", collection: celebs, fault: "ImageTooLargeException", image: awsfake.FaceJPEG("mel"), wantErr: sleuth.ErrBadImage, wantCalls: 1},
		{name: "invalid collection id is ours", collection: "celebs/../x", image: awsfake.FaceJPEG("mel"), wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faces, fake := setup(t)
			fake.AddCollection(celebs)
			if tt.fault != "" {
				fake.Inject("IndexFaces", tt.fault)
			}
			err := faces.IndexFace(context.Background(), tt.collection, "mel_gibson", tt.image)
			switch {
			case tt.wantErr == nil && tt.wantCalls == 0:
				if err == nil {
					t.Errorf("IndexFace(%q) error = nil, want an error", tt.collection)
				}
				if isUserError(err) {
					t.Errorf("IndexFace(%q) error = %v, must not be a user error", tt.collection, err)
				}
			case tt.wantErr == nil:
				if err != nil {
					t.Fatalf("IndexFace(%q) error = %v", tt.collection, err)
				}
			default:
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("IndexFace(%q) error = %v, want %v", tt.collection, err, tt.wantErr)
				}
			}
			if got := fake.Calls("IndexFaces"); got != tt.wantCalls {
				t.Errorf("IndexFaces calls = %d, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestIndexFaceRequest(t *testing.T) {
	faces, fake := setup(t)
	fake.AddCollection(celebs)
	image := awsfake.FaceJPEG("mel")
	if err := faces.IndexFace(context.Background(), celebs, "Mel_Gibson", image); err != nil {
		t.Fatal(err)
	}
	reqs := fake.IndexRequests()
	if len(reqs) != 1 {
		t.Fatalf("IndexFaces requests = %d, want 1", len(reqs))
	}
	got := reqs[0]
	if got.CollectionID != celebs || got.ExternalImageID != "Mel_Gibson" || got.MaxFaces != 1 || got.QualityFilter != "AUTO" {
		t.Errorf("IndexFaces request = {%q %q MaxFaces=%d QualityFilter=%q}, want {%q %q MaxFaces=1 QualityFilter=AUTO}",
			got.CollectionID, got.ExternalImageID, got.MaxFaces, got.QualityFilter, celebs, "Mel_Gibson")
	}
	if string(got.Image) != string(image) {
		t.Errorf("IndexFaces image = %q, want %q", got.Image, image)
	}
	stored, _ := fake.Faces(celebs)
	if len(stored) != 1 || stored[0].ExternalImageID != "Mel_Gibson" {
		t.Errorf("collection holds %+v, want one face of Mel_Gibson", stored)
	}
}

func TestSearchFace(t *testing.T) {
	tests := []struct {
		name       string
		collection string
		image      []byte
		threshold  float64
		fault      string
		want       sleuth.Match
		wantErr    error
	}{
		{name: "match", collection: celebs, image: awsfake.FacePNG("mel"), threshold: 85, want: sleuth.Match{ExternalID: "mel_gibson", Similarity: 99.1}},
		{name: "below threshold", collection: celebs, image: awsfake.FacePNG("mel"), threshold: 99.5, wantErr: sleuth.ErrNoMatch},
		{name: "stranger", collection: celebs, image: awsfake.FaceJPEG("someone_else"), threshold: 85, wantErr: sleuth.ErrNoMatch},
		{name: "no face", collection: celebs, image: awsfake.FaceJPEG(""), threshold: 85, wantErr: sleuth.ErrNoFace},
		{name: "unknown collection", collection: "crossfaas-dev-nope", image: awsfake.FaceJPEG("mel"), threshold: 85, wantErr: sleuth.ErrCollectionNotFound},
		{name: "undecodable", collection: celebs, image: awsfake.CorruptJPEG(), threshold: 85, wantErr: sleuth.ErrBadImage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faces, fake := setup(t)
			fake.AddFace(celebs, "mel_gibson", "mel")
			fake.AddFace(celebs, "danny_glover", "danny")
			if tt.fault != "" {
				fake.Inject("SearchFacesByImage", tt.fault)
			}
			got, err := faces.SearchFace(context.Background(), tt.collection, tt.image, tt.threshold)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Errorf("SearchFace(%q) error = %v, want %v", tt.name, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("SearchFace(%q) error = %v", tt.name, err)
			}
			if got.ExternalID != tt.want.ExternalID || math.Abs(got.Similarity-tt.want.Similarity) > 0.01 {
				t.Errorf("SearchFace(%q) = %+v, want %+v", tt.name, got, tt.want)
			}
			reqs := fake.SearchRequests()
			if len(reqs) != 1 || reqs[0].FaceMatchThreshold != tt.threshold || reqs[0].MaxFaces != 1 {
				t.Errorf("SearchFacesByImage requests = %+v, want one with threshold %v and MaxFaces 1", reqs, tt.threshold)
			}
		})
	}
}

func TestSearchFaceThresholdOutOfRange(t *testing.T) {
	faces, fake := setup(t)
	for _, threshold := range []float64{-1, 100.5, math.NaN()} {
		if _, err := faces.SearchFace(context.Background(), celebs, awsfake.FaceJPEG("mel"), threshold); err == nil || isUserError(err) {
			t.Errorf("SearchFace(threshold %v) error = %v, want a non-user error", threshold, err)
		}
	}
	if n := fake.Calls("SearchFacesByImage"); n != 0 {
		t.Errorf("SearchFacesByImage calls = %d, want 0", n)
	}
}

// Throttling and server errors are failures to retry: no sentinel, and the
// SDK's typed error stays in the chain.
func TestTransientErrors(t *testing.T) {
	tests := []struct {
		name string
		op   string
		code string
		call func(*rekognition.Faces) error
		as   any
	}{
		{
			name: "create throttled", op: "CreateCollection", code: "ThrottlingException",
			call: func(f *rekognition.Faces) error {
				_, err := f.CreateCollection(context.Background(), celebs)
				return err
			},
			as: new(*types.ThrottlingException),
		},
		{
			name: "index throughput", op: "IndexFaces", code: "ProvisionedThroughputExceededException",
			call: func(f *rekognition.Faces) error {
				return f.IndexFace(context.Background(), celebs, "mel", awsfake.FaceJPEG("mel"))
			},
			as: new(*types.ProvisionedThroughputExceededException),
		},
		{
			name: "search server error", op: "SearchFacesByImage", code: "InternalServerError",
			call: func(f *rekognition.Faces) error {
				_, err := f.SearchFace(context.Background(), celebs, awsfake.FaceJPEG("mel"), 85)
				return err
			},
			as: new(*types.InternalServerError),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			faces, fake := setup(t)
			fake.AddFace(celebs, "mel", "mel")
			fake.Inject(tt.op, tt.code, tt.code, tt.code) // as many as the SDK's attempts
			err := tt.call(faces)
			if err == nil || isUserError(err) {
				t.Fatalf("%s with %s: error = %v, want a non-user error", tt.op, tt.code, err)
			}
			if !errors.As(err, tt.as) {
				t.Errorf("%s with %s: error = %v, want it to wrap %T", tt.op, tt.code, err, tt.as)
			}
		})
	}
}

func isUserError(err error) bool {
	for _, target := range []error{sleuth.ErrNoFace, sleuth.ErrNoMatch, sleuth.ErrCollectionNotFound, sleuth.ErrBadImage} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// TestNoResend: CreateCollection and IndexFaces change things, so the SDK
// must not send them again after a failure that may have done the change
// (a 5xx); after throttling, which says nothing happened, it may.
func TestNoResend(t *testing.T) {
	calls := map[string]func(f *rekognition.Faces) error{
		"CreateCollection": func(f *rekognition.Faces) error {
			_, err := f.CreateCollection(context.Background(), celebs+"-new")
			return err
		},
		"IndexFaces": func(f *rekognition.Faces) error {
			return f.IndexFace(context.Background(), celebs, "mel:MM1", awsfake.FaceJPEG("mel"))
		},
	}
	// The SDK's standard retries, as the Lambdas have them.
	setup := func(t *testing.T) (*rekognition.Faces, *awsfake.Rekognition) {
		cloud := awsfake.NewCloud()
		t.Cleanup(cloud.Close)
		cfg := cloud.Config()
		cfg.Retryer = nil
		return rekognition.New(awsrek.NewFromConfig(cfg)), cloud.Rekognition
	}
	for op, call := range calls {
		t.Run(op+" after a 500", func(t *testing.T) {
			faces, fake := setup(t)
			fake.AddCollection(celebs)
			fake.Inject(op, "InternalServerError")
			if err := call(faces); err == nil {
				t.Fatalf("%s after a 500: error = nil, want the failure", op)
			}
			if n := fake.Calls(op); n != 1 {
				t.Errorf("%s sent %d times after a 500, want once", op, n)
			}
		})
		t.Run(op+" after throttling", func(t *testing.T) {
			faces, fake := setup(t)
			fake.AddCollection(celebs)
			fake.Inject(op, "ThrottlingException")
			if err := call(faces); err != nil {
				t.Fatalf("%s after one throttle: error = %v, want the SDK's retry to pass", op, err)
			}
			if n := fake.Calls(op); n != 2 {
				t.Errorf("%s sent %d times after a throttle, want twice", op, n)
			}
		})
	}
}

func TestCollectionCreated(t *testing.T) {
	faces, fake := setup(t)
	ctx := context.Background()
	before := time.Now().Add(-time.Second)
	if _, err := faces.CreateCollection(ctx, celebs); err != nil {
		t.Fatal(err)
	}
	got, err := faces.CollectionCreated(ctx, celebs)
	if err != nil || got.Before(before) || got.After(time.Now()) {
		t.Errorf("CollectionCreated(new) = %v, %v, want a time after %v", got, err, before)
	}
	old := time.Date(2025, 1, 2, 3, 4, 5, 600e6, time.UTC)
	fake.AddCollectionAt("crossfaas-dev.old", old)
	if got, err := faces.CollectionCreated(ctx, "crossfaas-dev.old"); err != nil || !got.Equal(old) {
		t.Errorf("CollectionCreated(old) = %v, %v, want %v", got, err, old)
	}
	if _, err := faces.CollectionCreated(ctx, "crossfaas-dev.missing"); !errors.Is(err, sleuth.ErrCollectionNotFound) {
		t.Errorf("CollectionCreated(missing) error = %v, want %v", err, sleuth.ErrCollectionNotFound)
	}
}
