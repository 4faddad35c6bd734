package inspector

import (
	"bytes"
	"context"
	"image"
	_ "image/jpeg"
	"maps"
	"strings"
	"testing"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/crossfaas/crossfaas/functions/labeler/labelertest"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
	"github.com/crossfaas/crossfaas/internal/leakcheck"
)

// TestSafeUploadIsLabeledTranslatedAndTagged: the bytes go to the labeler
// through the private link, the sidecar has labels, translations and
// SafeSearch, the object is tagged and stays in incoming/.
func TestSafeUploadIsLabeledTranslatedAndTagged(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t, "es", "fr")
	h := w.handler(t, Config{Languages: []string{"es", "fr"}})
	img := testJPEG(t, 320, 240)
	if err := h.Handle(context.Background(), w.upload(t, "cat photo.jpg", img)); err != nil {
		t.Fatal(err)
	}
	reqs := w.vision.Requests()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].GetImage().GetContent(), img) {
		t.Fatalf("Vision got %d images, want the upload's bytes once", len(reqs))
	}
	r := w.result(t, "cat photo.jpg")
	if r.State != StateDone || r.Verdict != VerdictSafe || r.Action != "none" || r.Engine != "cloud-vision" || r.Key != "incoming/cat photo.jpg" {
		t.Errorf("sidecar = %+v", r)
	}
	if r.Image == nil || *r.Image != (ImageFacts{Format: "jpeg", Width: 320, Height: 240}) || r.Size != int64(len(img)) {
		t.Errorf("sidecar image = %+v, size %d", r.Image, r.Size)
	}
	if len(r.Labels) != 3 || !maps.Equal(r.Labels[0].Translations, map[string]string{"es": "Gato", "fr": "Chat"}) {
		t.Errorf("labels = %+v, want Cat in Spanish and French", r.Labels)
	}
	if r.SafeSearch == nil || r.SafeSearch.Adult != "VERY_UNLIKELY" || r.TranslationEngine != "cloud-translation" || r.CompletedAt == nil {
		t.Errorf("sidecar = %+v", r)
	}
	tags := w.s3.Tags(testBucket, "incoming/cat photo.jpg", "")
	if tags[TagVerdict] != "safe" || tags[TagLabels] != "Cat / Whiskers / Felidae" || tags[TagEngine] != "cloud-vision" || tags[TagReason] != "" {
		t.Errorf("tags = %v", tags)
	}
	if !bytes.Equal(w.object(t, "incoming/cat photo.jpg"), img) {
		t.Error("a safe upload did not stay in incoming/")
	}
	if n := w.google.Exchanges(); n != 1 {
		t.Errorf("token exchanges = %d, want 1", n)
	}
}

// TestEveryAction: an unsafe upload under each crossfaas:safeSearchAction.
func TestEveryAction(t *testing.T) {
	for _, action := range []string{ActionQuarantine, ActionBlur, ActionTag} {
		t.Run(action, func(t *testing.T) {
			w := newWorld(t)
			ss := labelertest.Likelihoods(visionpb.Likelihood_VERY_UNLIKELY)
			ss.Adult, ss.Racy = visionpb.Likelihood_VERY_LIKELY, visionpb.Likelihood_LIKELY
			w.vision.SetSafeSearch(ss)
			h := w.handler(t, Config{Action: action})
			img := testJPEG(t, 1600, 1200)
			ev := w.upload(t, "party.png.jpg", img)
			if err := h.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			r := w.result(t, "party.png.jpg")
			if r.Verdict != VerdictUnsafe || r.Reason != "adult is VERY_LIKELY" || r.Action != action || r.State != StateDone {
				t.Errorf("sidecar = %+v", r)
			}
			original := w.object(t, "incoming/party.png.jpg")
			var quarantined, public []byte
			if r.QuarantineKey != "" {
				quarantined = w.object(t, r.QuarantineKey)
			}
			if r.PublicKey != "" {
				public = w.object(t, r.PublicKey)
			}
			switch action {
			case ActionTag:
				if !bytes.Equal(original, img) || len(w.keys(t, QuarantinePrefix)) != 0 || len(w.keys(t, PublicPrefix)) != 0 {
					t.Errorf("tag moved something: incoming %d bytes, quarantine %q, public %q", len(original), w.keys(t, QuarantinePrefix), w.keys(t, PublicPrefix))
				}
				if w.s3.Tags(testBucket, "incoming/party.png.jpg", "")[TagVerdict] != "unsafe" {
					t.Error("the object is not tagged unsafe")
				}
			case ActionQuarantine, ActionBlur:
				checkPlaced(t, r.QuarantineKey, QuarantinePrefix, "party.png.jpg")
				if original != nil || !bytes.Equal(quarantined, img) || !r.QuarantineCopied || r.QuarantineVersionID == "" {
					t.Errorf("quarantine: incoming %d, quarantine %d bytes, sidecar %+v; want the original moved", len(original), len(quarantined), r)
				}
				if got := w.s3.Tags(testBucket, r.QuarantineKey, ""); got[TagVerdict] != "unsafe" || got[TagReason] != "adult is VERY_LIKELY" {
					t.Errorf("quarantined copy's tags = %v", got)
				}
			}
			if action == ActionBlur {
				checkPlaced(t, r.PublicKey, PublicPrefix, "party.png.jpg.jpg")
				checkBlurred(t, public, img)
				if w.s3.Tags(testBucket, r.PublicKey, "")[TagVerdict] != "unsafe" {
					t.Errorf("public copy %q tags %v", r.PublicKey, w.s3.Tags(testBucket, r.PublicKey, ""))
				}
			} else if keys := w.keys(t, PublicPrefix); len(keys) != 0 {
				t.Errorf("%s wrote a public copy: %q", action, keys)
			}
		})
	}
}

// checkBlurred checks that blurred is a JPEG of at most 1024 pixels a side
// in which the original's sharp checkerboard is gone.
func checkBlurred(t *testing.T, blurred, original []byte) {
	t.Helper()
	img, format, err := image.Decode(bytes.NewReader(blurred))
	if err != nil || format != "jpeg" {
		t.Fatalf("the blurred copy is not a JPEG: %v", err)
	}
	b := img.Bounds()
	if max(b.Dx(), b.Dy()) > blurSide || b.Dx()*3 != b.Dy()*4 {
		t.Errorf("blurred copy is %dx%d, want the original's 4:3 within %d pixels", b.Dx(), b.Dy(), blurSide)
	}
	orig, _, _ := image.Decode(bytes.NewReader(original))
	if e, o := edgeEnergy(img), edgeEnergy(orig); e*20 > o {
		t.Errorf("edge energy of the blurred copy %.1f, of the original %.1f: want it at least 20 times lower", e, o)
	}
}

// edgeEnergy is the mean absolute difference of horizontally neighbouring
// pixels' green channel.
func edgeEnergy(img image.Image) float64 {
	b := img.Bounds()
	var sum, n float64
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X + 1; x < b.Max.X; x++ {
			_, g1, _, _ := img.At(x-1, y).RGBA()
			_, g2, _, _ := img.At(x, y).RGBA()
			sum += abs(float64(g1>>8) - float64(g2>>8))
			n++
		}
	}
	return sum / n
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

// TestRejectedUploads: what is not an image the inspector takes is tagged
// with the reason, recorded, left in place, and never sent to the labeler.
func TestRejectedUploads(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, Config{MaxBytes: 64 << 10})
	jpg := testJPEG(t, 400, 300)
	big := testJPEG(t, 900, 900)
	if len(big) <= 64<<10 {
		t.Fatalf("the oversize image is only %d bytes", len(big))
	}
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"empty.jpg", nil, "the object is empty (0 bytes)"},
		{"big.jpg", big, "over the limit of 64 KiB"},
		{"notes.txt", []byte("dear diary"), "not a JPEG, PNG, GIF, WebP or BMP image"},
		{"page.jpg", []byte("<html><body>not really a jpeg</body></html>"), "not a JPEG, PNG, GIF, WebP or BMP image"},
		{"cut.jpg", jpg[:len(jpg)/2], "the JPEG image is truncated or corrupt"},
		{"cut.png", encoded(t, 300, 200)["png"][:900], "the PNG image is truncated or corrupt"},
		{"bomb.png", hugePNG(20000, 20000), "20000x20000 pixels, over the limit of 25 megapixels"},
		{"deep.png", pngHeader(4000, 4000, 16, 6, 0), "the PNG image (4000x4000 pixels) would take about 122 MiB to decode, over the limit of 96 MiB"},
		{"progressive.jpg", jpegHeader(4000, 3000, true, 0x11), "the JPEG image (4000x3000 pixels) would take about 171 MiB to decode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := h.Handle(context.Background(), w.upload(t, tt.name, tt.data)); err != nil {
				t.Fatal(err)
			}
			r := w.result(t, tt.name)
			if r.Verdict != VerdictRejected || !strings.Contains(r.Reason, tt.want) || r.State != StateDone || r.Action != "none" {
				t.Errorf("sidecar = %+v, want rejected because %q", r, tt.want)
			}
			tags := w.s3.Tags(testBucket, IncomingPrefix+tt.name, "")
			if tags[TagVerdict] != VerdictRejected || !strings.Contains(tags[TagReason], strings.Fields(tt.want)[0]) {
				t.Errorf("tags = %v", tags)
			}
			if got := w.object(t, IncomingPrefix+tt.name); !bytes.Equal(got, tt.data) {
				t.Errorf("the upload changed or moved: %d bytes, want %d", len(got), len(tt.data))
			}
		})
	}
	if n := w.labelerCalls.Load(); n != 0 {
		t.Errorf("the labeler was called %d times for rejected uploads, want 0", n)
	}
	// Every format passes the same checks.
	for format, data := range encoded(t, 96, 64) {
		if err := h.Handle(context.Background(), w.upload(t, "ok."+format, data)); err != nil {
			t.Fatal(err)
		}
		if r := w.result(t, "ok."+format); r.Verdict != VerdictSafe || r.Image == nil || r.Image.Format != format {
			t.Errorf("%s: sidecar %+v, want a safe %s image", format, r, format)
		}
	}
}

// TestUserTagsAreKept: the uploader's tags stay beside the verdict.
func TestUserTagsAreKept(t *testing.T) {
	w := newWorld(t)
	h := w.handler(t, Config{})
	img := testJPEG(t, 64, 64)
	out, err := w.client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(testBucket), Key: aws.String("incoming/t.jpg"), Body: bytes.NewReader(img), Tagging: aws.String("owner=ana&project=x")})
	if err != nil {
		t.Fatal(err)
	}
	ev := fixtureEvent(t, testBucket, "incoming/t.jpg", int64(len(img)), strings.Trim(aws.ToString(out.ETag), `"`), aws.ToString(out.VersionId))
	if err := h.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	tags := w.s3.Tags(testBucket, "incoming/t.jpg", "")
	if tags["owner"] != "ana" || tags["project"] != "x" || tags[TagVerdict] != "safe" {
		t.Errorf("tags = %v, want the user's and the verdict", tags)
	}
}

// TestFailuresAreRetried: when the labeler or the private link fails, the
// invocation fails (Lambda retries, then dead-letters the event), and
// nothing is moved or marked done.
func TestFailuresAreRetried(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t)
	h := w.handler(t, Config{})
	w.vision.SetRespond(func(*visionpb.AnnotateImageRequest) (*visionpb.AnnotateImageResponse, error) {
		return nil, errInternal
	})
	img := testJPEG(t, 64, 64)
	err := h.Handle(context.Background(), w.upload(t, "a.jpg", img))
	if err == nil || !strings.Contains(err.Error(), "incoming/a.jpg") || !strings.Contains(err.Error(), "HTTP 502") {
		t.Errorf("error = %v, want the key and the labeler's 502", err)
	}
	if w.object(t, "results/a.jpg.json") != nil || !bytes.Equal(w.object(t, "incoming/a.jpg"), img) {
		t.Error("a failed inspection left a sidecar or moved the upload")
	}

	// An inspector whose role the workload identity provider does not
	// admit gets no token: an error, not a verdict.
	w.vision.SetRespond(nil)
	proxyOnly, err := googleauthfake.Start(googleauthfake.Config{
		Identities: []googleauthfake.AWSIdentity{lambdaIdentity}, AllowedRole: proxyRole, ServiceAccount: callerAccount,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer proxyOnly.Close()
	refused := w.handlerVia(t, proxyOnly, Config{})
	err = refused.Handle(context.Background(), w.upload(t, "b.jpg", img))
	if err == nil || !strings.Contains(err.Error(), "no identity token") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("error = %v, want the private link's refusal", err)
	}
	if n := w.labelerCalls.Load(); n != 1 {
		t.Errorf("the labeler served %d calls, want only the first one", n)
	}
}

// errInternal is Vision failing.
var errInternal = status.Error(codes.Internal, "backend error")
