package faces

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/gif"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/crossfaas/crossfaas/functions/sleuth"

	"github.com/crossfaas/crossfaas/internal/offline/faces/facetest"
)

// faceSet is the test images encoded as a user would send them.
type faceSet struct {
	sample, sampleVariant, rightMan, rightManVariant, leftMan, landscape []byte
}

func newFaceSet(t testing.TB) faceSet {
	t.Helper()
	sample := readImage(t, samplePath)
	video := readImage(t, videoPath)
	right := facetest.Cropped(video, image.Rect(75, 0, 150, 103))
	return faceSet{
		sample:          facetest.JPEG(sample, 90),
		sampleVariant:   facetest.JPEG(facetest.Scaled(facetest.Cropped(sample, image.Rect(20, 10, 310, 380)), 0.8), 60),
		rightMan:        facetest.PNG(facetest.Scaled(right, 4)),
		rightManVariant: facetest.JPEG(facetest.Scaled(right, 3), 70),
		leftMan:         facetest.PNG(facetest.Scaled(facetest.Cropped(video, image.Rect(0, 0, 60, 70)), 4)),
		landscape:       facetest.JPEG(facetest.Landscape(640, 480), 85),
	}
}

func openEngine(t testing.TB) (*Engine, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	e, err := Open(dir)
	if err != nil {
		t.Fatalf("Open(%q) = %v", dir, err)
	}
	t.Cleanup(func() { e.Close() })
	return e, dir
}

func mustCreate(t testing.TB, e *Engine, id string) {
	t.Helper()
	if _, err := e.CreateCollection(context.Background(), id); err != nil {
		t.Fatalf("CreateCollection(%q) = %v", id, err)
	}
}

func mustIndex(t testing.TB, e *Engine, collection, externalID string, img []byte) {
	t.Helper()
	if err := e.IndexFace(context.Background(), collection, externalID, img); err != nil {
		t.Fatalf("IndexFace(%q, %q) = %v", collection, externalID, err)
	}
}

func TestCreateCollection(t *testing.T) {
	e, _ := openEngine(t)
	ctx := context.Background()
	const id = "crossfaas-dev-celebs"
	for i, want := range []bool{true, false, false} {
		created, err := e.CreateCollection(ctx, id)
		if err != nil || created != want {
			t.Errorf("CreateCollection(%q) #%d = %v, %v, want %v, nil", id, i+1, created, err, want)
		}
	}

	tests := []struct {
		id      string
		wantErr bool
	}{
		{"a", false},
		{"My_Collection.v2-x", false},
		{strings.Repeat("c", 255), false},
		{"", true},
		{"with space", true},
		{"slash/es", true},
		{"colon:s", true},
		{"é", true},
		{strings.Repeat("c", 256), true},
	}
	for _, tt := range tests {
		_, err := e.CreateCollection(ctx, tt.id)
		if (err != nil) != tt.wantErr {
			t.Errorf("CreateCollection(%q) error = %v, want error %v", tt.id, err, tt.wantErr)
		}
	}
}

func TestIndexAndSearch(t *testing.T) {
	e, _ := openEngine(t)
	ctx := context.Background()
	set := newFaceSet(t)
	mustCreate(t, e, "people")
	mustIndex(t, e, "people", "sample_person", set.sample)
	mustIndex(t, e, "people", "right_man", set.rightMan)
	mustIndex(t, e, "people", "left_man", set.leftMan)

	sample := readImage(t, samplePath)
	tests := []struct {
		name  string
		image []byte
		want  string
	}{
		{"the indexed image", set.sample, "sample_person"},
		{"sample cropped, 0.8x, jpeg q60", set.sampleVariant, "sample_person"},
		{"sample half size png", facetest.PNG(facetest.Scaled(sample, 0.5)), "sample_person"},
		{"sample brightened", facetest.JPEG(brightened(sample, 25), 80), "sample_person"},
		{"sample on a large photo", facetest.JPEG(onCanvas(sample, 1600, 1200, 900, 200), 85), "sample_person"},
		{"right man x3 jpeg", set.rightManVariant, "right_man"},
		{"left man", set.leftMan, "left_man"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := e.SearchFace(ctx, "people", tt.image, 85)
			if err != nil {
				t.Fatalf("SearchFace(%s) = %v", tt.name, err)
			}
			if got.ExternalID != tt.want || got.Similarity < 85 || got.Similarity > 100 {
				t.Errorf("SearchFace(%s) = %+v, want %q with similarity 85-100", tt.name, got, tt.want)
			}
		})
	}
}

func TestSearchDifferentFace(t *testing.T) {
	e, _ := openEngine(t)
	ctx := context.Background()
	set := newFaceSet(t)
	mustCreate(t, e, "only-sample")
	mustIndex(t, e, "only-sample", "sample_person", set.sample)
	mustCreate(t, e, "only-video")
	mustIndex(t, e, "only-video", "right_man", set.rightMan)
	mustIndex(t, e, "only-video", "left_man", set.leftMan)

	tests := []struct {
		collection string
		name       string
		image      []byte
	}{
		{"only-sample", "right man", set.rightMan},
		{"only-sample", "left man", set.leftMan},
		{"only-video", "sample", set.sample},
		{"only-video", "sample variant", set.sampleVariant},
	}
	for _, tt := range tests {
		got, err := e.SearchFace(ctx, tt.collection, tt.image, 85)
		if !errors.Is(err, sleuth.ErrNoMatch) {
			t.Errorf("SearchFace(%q, %s) = %+v, %v, want ErrNoMatch", tt.collection, tt.name, got, err)
		}
	}
	// The threshold is honoured: the best candidate exists, just too far.
	if got, err := e.SearchFace(ctx, "only-sample", set.rightMan, 0); err != nil || got.ExternalID != "sample_person" || got.Similarity >= 85 {
		t.Errorf("SearchFace(only-sample, right man, threshold 0) = %+v, %v, want sample_person below 85", got, err)
	}
}

func TestErrors(t *testing.T) {
	e, _ := openEngine(t)
	ctx := context.Background()
	set := newFaceSet(t)
	mustCreate(t, e, "people")
	mustIndex(t, e, "people", "sample_person", set.sample)
	mustCreate(t, e, "empty")

	var gifBuf bytes.Buffer
	if err := gif.Encode(&gifBuf, readImage(t, samplePath), nil); err != nil {
		t.Fatal(err)
	}
	truncated := set.sample[:len(set.sample)/3]
	errOther := errors.New("an error that is none of sleuth's")

	tests := []struct {
		name       string
		collection string
		image      []byte
		threshold  float64
		want       error
	}{
		{"unknown collection", "nope", set.sample, 85, sleuth.ErrCollectionNotFound},
		{"unknown collection, garbage image", "nope", []byte("garbage"), 85, sleuth.ErrCollectionNotFound},
		{"no face", "people", set.landscape, 85, sleuth.ErrNoFace},
		{"garbage bytes", "people", []byte("definitely not an image"), 85, sleuth.ErrBadImage},
		{"empty image", "people", nil, 85, sleuth.ErrBadImage},
		{"truncated jpeg", "people", truncated, 85, sleuth.ErrBadImage},
		{"gif", "people", gifBuf.Bytes(), 85, sleuth.ErrBadImage},
		{"empty collection", "empty", set.sample, 85, sleuth.ErrNoMatch},
		{"threshold below 0", "people", set.sample, -1, errOther},
		{"threshold above 100", "people", set.sample, 100.5, errOther},
		{"threshold NaN", "people", set.sample, math.NaN(), errOther},
	}
	sentinels := []error{sleuth.ErrCollectionNotFound, sleuth.ErrNoFace, sleuth.ErrNoMatch, sleuth.ErrBadImage}
	check := func(t *testing.T, call string, err, want error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s = nil error, want %v", call, want)
		}
		if want != errOther {
			if !errors.Is(err, want) {
				t.Errorf("%s = %v, want an error wrapping %q", call, err, want)
			}
			return
		}
		for _, s := range sentinels {
			if errors.Is(err, s) {
				t.Errorf("%s = %v, want an error that is not %q", call, err, s)
			}
		}
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.SearchFace(ctx, tt.collection, tt.image, tt.threshold)
			check(t, fmt.Sprintf("SearchFace(%q, %s)", tt.collection, tt.name), err, tt.want)
			if tt.want == sleuth.ErrNoMatch || tt.want == errOther {
				return // not IndexFace outcomes
			}
			err = e.IndexFace(ctx, tt.collection, "someone", tt.image)
			check(t, fmt.Sprintf("IndexFace(%q, %s)", tt.collection, tt.name), err, tt.want)
		})
	}

	for _, id := range []string{"", "with space", "slash/es", strings.Repeat("x", 256)} {
		if err := e.IndexFace(ctx, "people", id, set.sample); err == nil {
			t.Errorf("IndexFace(people, %q) = nil, want an invalid external id error", id)
		}
	}
	if err := e.IndexFace(ctx, "people", "first_last:2", set.sample); err != nil {
		t.Errorf("IndexFace(people, %q) = %v, want nil", "first_last:2", err)
	}
}

func TestCanceledContext(t *testing.T) {
	e, _ := openEngine(t)
	set := newFaceSet(t)
	mustCreate(t, e, "people")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.CreateCollection(ctx, "other"); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateCollection(canceled) = %v, want context.Canceled", err)
	}
	if err := e.IndexFace(ctx, "people", "x", set.sample); !errors.Is(err, context.Canceled) {
		t.Errorf("IndexFace(canceled) = %v, want context.Canceled", err)
	}
	if _, err := e.SearchFace(ctx, "people", set.sample, 85); !errors.Is(err, context.Canceled) {
		t.Errorf("SearchFace(canceled) = %v, want context.Canceled", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	e, _ := openEngine(t)
	ctx := context.Background()
	set := newFaceSet(t)
	mustCreate(t, e, "people")
	mustIndex(t, e, "people", "sample_person", set.sample)

	const workers = 6
	var wg sync.WaitGroup
	errs := make(chan error, 4*workers)
	var createdCount sync.Map
	for w := range workers {
		wg.Add(3)
		go func() {
			defer wg.Done()
			created, err := e.CreateCollection(ctx, "shared")
			if err != nil {
				errs <- err
			}
			createdCount.Store(w, created)
		}()
		go func() {
			defer wg.Done()
			if err := e.IndexFace(ctx, "people", fmt.Sprintf("right_man_%d", w), set.rightMan); err != nil {
				errs <- err
			}
		}()
		go func() {
			defer wg.Done()
			got, err := e.SearchFace(ctx, "people", set.sampleVariant, 85)
			if err != nil {
				errs <- err
			} else if got.ExternalID != "sample_person" {
				errs <- fmt.Errorf("SearchFace(sample variant) = %+v, want sample_person", got)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	created := 0
	createdCount.Range(func(_, v any) bool {
		if v.(bool) {
			created++
		}
		return true
	})
	if created != 1 {
		t.Errorf("concurrent CreateCollection(shared) created it %d times, want 1", created)
	}
	got, err := e.SearchFace(ctx, "people", set.rightManVariant, 85)
	if err != nil || !strings.HasPrefix(got.ExternalID, "right_man_") {
		t.Errorf("SearchFace(right man) after concurrent indexing = %+v, %v, want right_man_*", got, err)
	}
}

// BenchmarkSearchFace measures SearchFace on a typical MMS photo (a face
// on a 1280x960 JPEG) against a collection of 10 faces, and on a 12 MP
// phone photo.
func BenchmarkSearchFace(b *testing.B) {
	sample := readImage(b, samplePath)
	set := newFaceSet(b)
	e, _ := openEngine(b)
	ctx := context.Background()
	mustCreate(b, e, "people")
	for i := range 4 {
		mustIndex(b, e, "people", fmt.Sprintf("sample_%d", i), set.sample)
		mustIndex(b, e, "people", fmt.Sprintf("right_%d", i), set.rightMan)
	}
	mustIndex(b, e, "people", "left", set.leftMan)
	mustIndex(b, e, "people", "sample_variant", set.sampleVariant)

	photos := []struct {
		name   string
		w, h   int
		factor float64
	}{
		{"1280x960", 1280, 960, 1},
		{"4032x3024", 4032, 3024, 3},
	}
	for _, p := range photos {
		face := facetest.Scaled(sample, p.factor)
		photo := onCanvasOver(facetest.Landscape(p.w, p.h), face, p.w/3, p.h/5)
		data := facetest.JPEG(photo, 85)
		b.Run(p.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := e.SearchFace(ctx, "people", data, 85); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
