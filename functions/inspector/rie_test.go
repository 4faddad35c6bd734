package inspector

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/vision/v2/apiv1/visionpb"

	"github.com/crossfaas/crossfaas/functions/labeler/labelertest"
	"github.com/crossfaas/crossfaas/gobuild"
	"github.com/crossfaas/crossfaas/internal/build"
	"github.com/crossfaas/crossfaas/internal/lambdatest"
	"github.com/crossfaas/crossfaas/internal/leakcheck"
	"github.com/crossfaas/crossfaas/internal/s3fake"
)

// bootstrapPackage is the inspector's main package, as the build takes it.
const bootstrapPackage = "./functions/inspector/bootstrap"

// maxZipSize is the largest inspector.zip accepted.
const maxZipSize = 8 << 20

// startInspector runs the real bootstrap under the Lambda emulator in w,
// with the stack's environment plus extra.
func startInspector(t testing.TB, w *world, extra map[string]string) *lambdatest.Function {
	t.Helper()
	env := w.credentialEnv()
	env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
	env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = "256"
	maps.Copy(env, extra)
	return lambdatest.Start(t, lambdatest.Options{Package: bootstrapPackage, Env: env, Timeout: 60 * time.Second})
}

// invoke invokes fn with ev as S3 does (asynchronously in AWS: here the
// emulator's synchronous invoke, whose function error is what Lambda would
// retry).
func invoke(t testing.TB, fn *lambdatest.Function, ev any) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, err := fn.Invoke(ctx, ev)
	var fnErr *lambdatest.FunctionError
	if err != nil && !errors.As(err, &fnErr) {
		t.Fatalf("invoke: %v", err)
	}
	return err
}

// TestBootstrapUnderRIE runs the inspector as deployed: S3 events built
// from aws-lambda-go's fixture, the bucket in s3fake (reached through
// AWS_ENDPOINT_URL_S3), the real labeler handler behind the private link's
// fakes, the credential configuration in LABELER_CREDENTIAL_CONFIG.
func TestBootstrapUnderRIE(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t, "es")
	fn := startInspector(t, w, map[string]string{EnvLanguages: "es", EnvAction: ActionBlur})
	safe := testJPEG(t, 640, 480)

	if err := invoke(t, fn, w.upload(t, "safe.jpg", safe)); err != nil {
		t.Fatal(err)
	}
	r := w.result(t, "safe.jpg")
	if r.Verdict != VerdictSafe || r.State != StateDone || len(r.Labels) == 0 || r.Labels[0].Translations["es"] != "Gato" {
		t.Errorf("safe.jpg sidecar = %+v", r)
	}

	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	unsafe := testJPEG(t, 2000, 1500)
	ev := w.upload(t, "unsafe.jpg", unsafe)
	for range 3 { // S3 delivers at least once
		if err := invoke(t, fn, ev); err != nil {
			t.Fatal(err)
		}
	}
	r = w.result(t, "unsafe.jpg")
	if r.Verdict != VerdictUnsafe || r.Action != ActionBlur || r.State != StateDone {
		t.Errorf("unsafe.jpg sidecar = %+v", r)
	}
	if !bytes.Equal(w.object(t, r.QuarantineKey), unsafe) || w.object(t, "incoming/unsafe.jpg") != nil {
		t.Error("unsafe.jpg was not moved to quarantine/")
	}
	if w.s3.Count("CopyObject", r.QuarantineKey) != 1 || w.s3.Count("PutObject", r.PublicKey) != 1 {
		t.Errorf("three deliveries made %d copies and %d blurred copies, want 1 each",
			w.s3.Count("CopyObject", r.QuarantineKey), w.s3.Count("PutObject", r.PublicKey))
	}
	checkBlurred(t, w.object(t, r.PublicKey), unsafe)

	if err := invoke(t, fn, w.upload(t, "notes.txt", []byte("not an image"))); err != nil {
		t.Fatal(err)
	}
	if r := w.result(t, "notes.txt"); r.Verdict != VerdictRejected {
		t.Errorf("notes.txt sidecar = %+v", r)
	}
	if n := w.labelerCalls.Load(); n != 2 {
		t.Errorf("the labeler was called %d times, want 2 (safe.jpg, unsafe.jpg)", n)
	}
	if n := w.google.Exchanges(); n != 1 {
		t.Errorf("token exchanges = %d, want 1 for the environment's life", n)
	}
	if !fn.WaitOutput(`"message":"inspected"`, 30*time.Second) {
		t.Errorf("no log line for the inspections:\n%s", fn.Output())
	}
	for _, secret := range []string{lambdaIdentity.SecretAccessKey, lambdaIdentity.SessionToken} {
		if strings.Contains(fn.Output(), secret) {
			t.Error("the function's output holds its role credentials")
		}
	}
}

// TestBootstrapCrashBetweenCopyAndDelete kills the bootstrap process while
// it deletes the original after copying it to quarantine/, as a crash or an
// out-of-memory kill would: the invocation fails, the original is still in
// incoming/, and the retry (a new bootstrap, a cold start) completes the
// move without asking the labeler again.
func TestBootstrapCrashBetweenCopyAndDelete(t *testing.T) {
	leakcheck.Check(t)
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	fn := startInspector(t, w, nil)
	img := testJPEG(t, 320, 240)
	ev := w.upload(t, "crash.jpg", img)
	killed := make(chan int, 1)
	w.s3.Intercept(func(rw http.ResponseWriter, r *http.Request, c s3fake.Call) bool {
		if c.Op == "DeleteObject" && c.Key == "incoming/crash.jpg" {
			killed <- fn.KillBootstrap()
			http.Error(rw, "", http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	err := invoke(t, fn, ev)
	if n := <-killed; n == 0 || err == nil {
		t.Fatalf("killed %d processes, invocation error %v: want the crash to fail the invocation", n, err)
	}
	w.s3.Intercept(nil)
	if q := w.keys(t, QuarantinePrefix); !bytes.Equal(w.object(t, "incoming/crash.jpg"), img) || len(q) != 1 || !bytes.Equal(w.object(t, q[0]), img) {
		t.Fatal("after the crash the original must still be in incoming/ and its copy in quarantine/")
	}
	if err := invoke(t, fn, ev); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if w.object(t, "incoming/crash.jpg") != nil || w.result(t, "crash.jpg").State != StateDone {
		t.Error("the retry did not complete the move")
	}
	if n := w.labelerCalls.Load(); n != 1 {
		t.Errorf("the labeler was called %d times, want 1", n)
	}
}

// TestBootstrap10MiBUploadIn256MB inspects and blurs a 10 MiB JPEG and
// reports the bootstrap's peak resident memory, which must leave a 256 MB
// function room (the runtime's own share included).
func TestBootstrap10MiBUploadIn256MB(t *testing.T) {
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	fn := startInspector(t, w, map[string]string{EnvAction: ActionBlur})
	img := noisyJPEG(t, 10<<20)
	if err := invoke(t, fn, w.upload(t, "big.jpg", img)); err != nil {
		t.Fatal(err)
	}
	r := w.result(t, "big.jpg")
	if r.Verdict != VerdictUnsafe || r.State != StateDone || w.object(t, r.PublicKey) == nil {
		t.Fatalf("sidecar = %+v", r)
	}
	peak, err := fn.BootstrapPeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("10 MiB JPEG (%d bytes, %dx%d) inspected and blurred: bootstrap peak RSS %.1f MiB", len(img), r.Image.Width, r.Image.Height, float64(peak)/(1<<20))
	if peak >= 256_000_000 || peak > 200<<20 {
		t.Errorf("peak RSS %d MiB, want at most 200 MiB (under 256 MB with the runtime's share)", peak>>20)
	}
}

// TestBootstrapDeepPNGsIn256MB: under the emulator, with the memory of a
// 256 MB function: a real 16-bit PNG of 25 megapixels (200 MB decoded, a
// few hundred KiB compressed: a decompression bomb within the pixel
// limit) and a header declaring 400 megapixels are refused from their
// headers, tagged with the reason; a 16-bit PNG just within the decoding
// limit is inspected and blurred. The bootstrap's peak resident memory,
// reported, stays under 256 MB.
func TestBootstrapDeepPNGsIn256MB(t *testing.T) {
	w := newWorld(t)
	w.vision.SetSafeSearch(labelertest.Likelihoods(visionpb.Likelihood_VERY_LIKELY))
	fn := startInspector(t, w, map[string]string{EnvAction: ActionBlur})
	bomb := png16(t, 5000, 5000)
	for name, data := range map[string][]byte{"bomb16.png": bomb, "huge.png": hugePNG(20000, 20000)} {
		if err := invoke(t, fn, w.upload(t, name, data)); err != nil {
			t.Fatal(err)
		}
		r := w.result(t, name)
		if r.Verdict != VerdictRejected || !strings.Contains(r.Reason, "over the limit") || w.s3.Tags(testBucket, IncomingPrefix+name, "")[TagVerdict] != VerdictRejected {
			t.Errorf("%s (%d bytes): sidecar %+v, want rejected for its size", name, len(data), r)
		}
	}
	afterBombs, err := fn.BootstrapPeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	deep := png16(t, 3400, 3400) // 88 MiB decoded
	if err := invoke(t, fn, w.upload(t, "deep.png", deep)); err != nil {
		t.Fatal(err)
	}
	if r := w.result(t, "deep.png"); r.Verdict != VerdictUnsafe || r.State != StateDone || w.object(t, r.PublicKey) == nil {
		t.Errorf("deep.png: sidecar %+v, want it inspected and blurred", r)
	}
	peak, err := fn.BootstrapPeakRSS()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("16-bit PNG bomb (%d bytes, 5000x5000) refused: peak RSS %.1f MiB; 16-bit PNG 3400x3400 (%d bytes) inspected and blurred: peak RSS %.1f MiB",
		len(bomb), float64(afterBombs)/(1<<20), len(deep), float64(peak)/(1<<20))
	if afterBombs > 64<<20 {
		t.Errorf("peak RSS after the refused bombs %d MiB: they were decoded", afterBombs>>20)
	}
	if peak >= 256_000_000 {
		t.Errorf("peak RSS %d bytes, want under 256 MB", peak)
	}
}

// TestBootstrapFailsFastWithoutLabelerURL: a configuration error stops the
// cold start with a message naming the variable.
func TestBootstrapFailsFastWithoutLabelerURL(t *testing.T) {
	w := newWorld(t)
	fn := startInspector(t, w, map[string]string{EnvLabelerURL: ""})
	err := invoke(t, fn, w.upload(t, "a.jpg", testJPEG(t, 8, 8)))
	var fnErr *lambdatest.FunctionError
	if !errors.As(err, &fnErr) || !strings.Contains(fnErr.Message, EnvLabelerURL+" is not set") {
		t.Errorf("error = %v, want an init failure naming %s", err, EnvLabelerURL)
	}
}

// TestInspectorZipSize builds inspector.zip for Lambda (linux/arm64, the
// release flags) as `crossfaas build` does.
func TestInspectorZipSize(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: not building")
	}
	var targets []gobuild.Target
	for _, target := range build.Targets {
		if target.Name == "inspector" {
			targets = append(targets, target)
		}
	}
	if len(targets) != 1 || targets[0].Package != bootstrapPackage {
		t.Fatalf("build.Targets has no inspector target for %s", bootstrapPackage)
	}
	arts, err := build.All(context.Background(), gobuild.Options{OutDir: t.TempDir(), Targets: targets})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("inspector.zip (linux/arm64): %d bytes (%.2f MiB)", arts[0].Size, float64(arts[0].Size)/(1<<20))
	if arts[0].Size > maxZipSize {
		t.Errorf("inspector.zip is %d bytes, want at most 8 MiB", arts[0].Size)
	}
}

// noisyJPEG is a JPEG of random pixels just under size bytes (noise
// compresses worst, so it is the largest image of its byte size).
func noisyJPEG(t testing.TB, size int) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	w, h := 2400, 1800
	for range 5 {
		img := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = byte(rng.Uint32())
		}
		var b bytes.Buffer
		if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
			t.Fatal(err)
		}
		if n := b.Len(); n <= size && n > size*19/20 {
			return b.Bytes()
		} else {
			scale := math.Sqrt(float64(size) * 0.975 / float64(n))
			w, h = int(float64(w)*scale), int(float64(h)*scale)
		}
	}
	t.Fatalf("no noise JPEG of about %d bytes", size)
	return nil
}
