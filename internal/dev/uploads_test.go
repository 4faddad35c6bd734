package dev

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/crossfaas/crossfaas/functions/inspector"
	"github.com/crossfaas/crossfaas/functions/labeler"
)

// unsafeAnnotator stands in for Cloud Vision in tests of the unsafe path,
// which the offline engine (no SafeSearch) never takes. It says so: engine
// "test".
type unsafeAnnotator struct{}

func (unsafeAnnotator) Annotate(context.Context, string) (*labeler.Annotation, error) {
	return unsafeAnnotation(), nil
}

func (unsafeAnnotator) AnnotateContent(context.Context, []byte) (*labeler.Annotation, error) {
	return unsafeAnnotation(), nil
}

func unsafeAnnotation() *labeler.Annotation {
	return &labeler.Annotation{
		Engine: "test",
		Labels: []labeler.Label{{Description: "Party", Score: 0.9}},
		SafeSearch: &labeler.SafeSearch{Adult: "VERY_LIKELY", Spoof: "UNLIKELY", Medical: "UNLIKELY",
			Violence: "UNLIKELY", Racy: "LIKELY"},
		Note: "test engine: SafeSearch made up for the test",
	}
}

// withUnsafeLabeler makes the system's labeler answer unsafeAnnotation,
// behind the same handler and private link.
func withUnsafeLabeler(o *Options) {
	o.editEngines = func(e *engines) {
		e.annotator = unsafeAnnotator{}
		e.labeler = labeler.NewHandler(e.annotator, labelerConfig(*o), nil)
	}
}

// photoJPEG is a w x h JPEG of noise (it compresses little).
func photoJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			v := rng.Uint32()
			img.Set(x, y, color.RGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegOfSize is a JPEG of noise of about size bytes (within 5%).
func jpegOfSize(t testing.TB, size int) []byte {
	t.Helper()
	w, h := 800, 600
	for range 6 {
		img := photoJPEG(t, w, h)
		if n := len(img); n > size*95/100 && n < size*105/100 {
			return img
		} else {
			scale := math.Sqrt(float64(size) / float64(n))
			w, h = int(float64(w)*scale), int(float64(h)*scale)
		}
	}
	t.Fatalf("no JPEG of about %d bytes", size)
	return nil
}

// uploadAndWait uploads through the panel's API and returns the verdict.
func uploadAndWait(t testing.TB, sys *System, name string, data []byte) map[string]any {
	t.Helper()
	resp, err := http.Post(sys.PhoneURL+"/_dev/uploads?name="+url.QueryEscape(name), "image/jpeg", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var up uploadReply
	json.NewDecoder(resp.Body).Decode(&up)
	resp.Body.Close()
	if resp.StatusCode != 200 || up.VersionID == "" {
		t.Fatalf("upload %s: %d %+v", name, resp.StatusCode, up)
	}
	resp, err = http.Get(sys.PhoneURL + "/_dev/uploads/result?name=" + url.QueryEscape(up.Name) + "&versionId=" + url.QueryEscape(up.VersionID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r map[string]any
	json.NewDecoder(resp.Body).Decode(&r)
	if resp.StatusCode != 200 {
		t.Fatalf("result of %s: %d %v", name, resp.StatusCode, r)
	}
	return r
}

// TestOfflineUploadSaysWhatItCannotDo: offline there is no SafeSearch and
// no translation: the verdict is unknown, nothing is moved, and the result
// says so, with the offline facts as labels.
func TestOfflineUploadSaysWhatItCannotDo(t *testing.T) {
	sys := start(t, func(o *Options) { o.LabelLanguages = []string{"es"} })
	r := uploadAndWait(t, sys, "holiday photo.jpg", photoJPEG(t, 320, 240))
	if r["verdict"] != inspector.VerdictUnknown || r["engine"] != labeler.EngineOffline || r["action"] != "none" || r["state"] != "done" {
		t.Errorf("result = %v, want an unknown verdict from the offline engine", r)
	}
	if !strings.Contains(r["reason"].(string), "no SafeSearch") || r["translationNote"] != OfflineTranslationNote || r["engineNote"] == "" {
		t.Errorf("result = %v, want notes saying SafeSearch and translation do not exist offline", r)
	}
	labels, _ := r["labels"].([]any)
	if len(labels) == 0 || !strings.HasPrefix(labels[0].(map[string]any)["description"].(string), "offline:") {
		t.Errorf("labels = %v, want the offline facts", labels)
	}
	for _, l := range labels {
		if l.(map[string]any)["translations"] != nil {
			t.Errorf("label %v is translated offline", l)
		}
	}
}

// TestUploadsThroughTheRealS3Client: what `aws s3 cp photo.jpg
// s3://<bucket>/incoming/` does, with the real SDK against the local S3:
// the notification runs the inspector, the blur action writes a blurred
// copy the panel serves, and the original goes to quarantine/, which the
// panel never serves.
func TestUploadsThroughTheRealS3Client(t *testing.T) {
	sys := start(t, func(o *Options) {
		withUnsafeLabeler(o)
		o.UploadAction = inspector.ActionBlur
	})
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(sys.UploadsURL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("AKIALOCAL", "local", "")})
	img := photoJPEG(t, 640, 480)
	out, err := client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(sys.UploadsBucket), Key: aws.String("incoming/party.jpg"), Body: bytes.NewReader(img)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(sys.PhoneURL + "/_dev/uploads/result?name=party.jpg&versionId=" + url.QueryEscape(aws.ToString(out.VersionId)))
	if err != nil {
		t.Fatal(err)
	}
	var r map[string]any
	json.NewDecoder(resp.Body).Decode(&r)
	resp.Body.Close()
	publicURL, _ := r["publicUrl"].(string)
	if r["verdict"] != inspector.VerdictUnsafe || r["action"] != inspector.ActionBlur || !strings.HasPrefix(publicURL, "/_dev/uploads/public/") || !strings.HasSuffix(publicURL, "/party.jpg.jpg") {
		t.Fatalf("result = %v, want unsafe and blurred", r)
	}
	thumb, err := http.Get(sys.PhoneURL + r["publicUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(thumb.Body)
	thumb.Body.Close()
	if _, format, err := image.DecodeConfig(bytes.NewReader(body)); err != nil || format != "jpeg" || thumb.Header.Get("Content-Type") != "image/jpeg" {
		t.Errorf("the blurred copy: %v %s %q", err, format, thumb.Header.Get("Content-Type"))
	}
	got, err := client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(sys.UploadsBucket), Key: aws.String(r["quarantineKey"].(string))})
	if err != nil {
		t.Fatal(err)
	}
	moved, _ := io.ReadAll(got.Body)
	if !bytes.Equal(moved, img) {
		t.Error("the original is not in quarantine/")
	}
	if resp, _ := http.Get(sys.PhoneURL + "/_dev/uploads/public/../" + r["quarantineKey"].(string)); resp != nil && resp.StatusCode == 200 {
		t.Error("the panel serves quarantine/")
	}
}

// TestUploadPanelRefusesOtherOrigins: only the simulator's page may put
// objects in the bucket.
func TestUploadPanelRefusesOtherOrigins(t *testing.T) {
	sys := start(t, nil)
	req, _ := http.NewRequest(http.MethodPost, sys.PhoneURL+"/_dev/uploads?name=x.jpg", strings.NewReader("x"))
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin upload: %d, want 403", resp.StatusCode)
	}
}

// BenchmarkUploadVerdict measures, offline, an upload of a 1 MiB JPEG
// through the panel's API to its verdict: the PutObject to the local S3,
// the notification, the inspector (checks, the labeler through the private
// link with the offline engine, sidecar and tags) and the sidecar read. It
// fails when the median is over 300 ms.
//
//	go test -run '^$' -bench UploadVerdict -benchtime 40x ./internal/dev/
func BenchmarkUploadVerdict(b *testing.B) {
	sys := start(b, nil)
	img := jpegOfSize(b, 1<<20)
	uploadAndWait(b, sys, "warm-up.jpg", img)
	var took []time.Duration
	i := 0
	for b.Loop() {
		i++
		start := time.Now()
		r := uploadAndWait(b, sys, "bench.jpg", img)
		took = append(took, time.Since(start))
		if r["verdict"] != inspector.VerdictUnknown {
			b.Fatalf("verdict = %v", r["verdict"])
		}
	}
	slices.Sort(took)
	ms := func(q float64) float64 {
		return float64(took[min(len(took)-1, int(q*float64(len(took))))].Microseconds()) / 1000
	}
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.95), "p95-ms")
	b.ReportMetric(float64(len(img))/(1<<20), "MiB")
	if p50 := ms(0.50); p50 > maxUploadVerdictMs {
		b.Fatalf("upload to verdict p50 %.1f ms, want at most %d ms", p50, maxUploadVerdictMs)
	}
}

// maxUploadVerdictMs is the limit on an offline upload's verdict
// (1 MiB JPEG), p50.
const maxUploadVerdictMs = 300
