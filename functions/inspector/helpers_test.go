package inspector

import (
	"bytes"
	"compress/zlib"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/image/bmp"

	"github.com/crossfaas/crossfaas/federation"
	"github.com/crossfaas/crossfaas/functions/labeler"
	"github.com/crossfaas/crossfaas/functions/labeler/labelertest"
	"github.com/crossfaas/crossfaas/internal/googleauthfake"
	"github.com/crossfaas/crossfaas/internal/s3fake"
)

const (
	testBucket    = "crossfaas-test-uploads"
	inspectorRole = "arn:aws:sts::123456789012:assumed-role/crossfaas-test-uploads-inspector"
	proxyRole     = "arn:aws:sts::123456789012:assumed-role/crossfaas-test-proxy"
	callerAccount = "crossfaas-test-caller@test-project-123.iam.gserviceaccount.com"
)

// lambdaIdentity holds the sentinel role credentials Lambda would give the
// inspector.
var lambdaIdentity = googleauthfake.AWSIdentity{
	AccessKeyID:     "ASIAINSPECTSENTINEL1",
	SecretAccessKey: "inspector-sentinel-secret-51c0de",
	SessionToken:    "inspector-sentinel-session-7a9f12",
	ARN:             inspectorRole + "/crossfaas-test-uploads-inspector",
}

//go:embed testdata/small.webp
var smallWebP []byte

// world is everything around the inspector: the bucket (s3fake), and the
// real labeler handler with fake Vision and Translation behind the private
// link's fakes (Google STS, IAM Credentials, Cloud Run's front admitting
// only the caller account).
type world struct {
	s3          *s3fake.Server
	client      *s3.Client
	vision      *labelertest.Vision
	translation *labelertest.Translation
	google      *googleauthfake.Google
	labelerURL  string
	// labelerCalls counts the requests that reached the labeler, past the
	// front.
	labelerCalls atomic.Int32
	// fakes times the requests every fake serves (S3, Google's STS, IAM
	// Credentials and front, the labeler with Vision behind it).
	fakes fakeClock
}

// fakeClock adds up the time fakes spend serving requests, from the
// request's headers read to the handler's return.
type fakeClock struct {
	mu       sync.Mutex
	total    time.Duration
	requests int
}

func (c *fakeClock) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		h.ServeHTTP(w, r)
		c.mu.Lock()
		c.total += time.Since(start)
		c.requests++
		c.mu.Unlock()
	})
}

// take returns the time and requests served since the last take.
func (c *fakeClock) take() (time.Duration, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d, n := c.total, c.requests
	c.total, c.requests = 0, 0
	return d, n
}

// newWorld starts the world; the labeler translates into languages.
func newWorld(t testing.TB, languages ...string) *world {
	t.Helper()
	w := &world{vision: labelertest.StartVision(t), translation: labelertest.StartTranslation(t)}
	var err error
	if w.s3, err = s3fake.New(testBucket); err != nil {
		t.Fatal(err)
	}
	s3srv := httptest.NewServer(w.fakes.wrap(w.s3))
	t.Cleanup(s3srv.Close)
	w.s3.URL = s3srv.URL
	w.client = w.s3.Client()
	w.google, err = googleauthfake.Start(googleauthfake.Config{
		Identities:     []googleauthfake.AWSIdentity{lambdaIdentity},
		AllowedRole:    proxyRole,
		AllowedRoles:   []string{inspectorRole},
		ServiceAccount: callerAccount,
		Wrap:           w.fakes.wrap,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.google.Close)
	h := labelertest.Handler(t, w.vision, w.translation, labeler.Config{}, languages...)
	counted := http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		w.labelerCalls.Add(1)
		h.ServeHTTP(rw, r)
	})
	var front http.Handler
	srv := httptest.NewServer(w.fakes.wrap(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { front.ServeHTTP(rw, r) })))
	t.Cleanup(srv.Close)
	w.labelerURL = srv.URL
	front = w.google.Front(srv.URL, callerAccount, counted)
	return w
}

// credentialEnv is the private link's configuration and the Lambda's role
// credentials, as the stack and Lambda set them.
func (w *world) credentialEnv() map[string]string {
	return map[string]string{
		EnvLabelerURL:           w.labelerURL,
		EnvCredentialConfig:     string(w.google.CredentialConfig().JSON()),
		"AWS_ACCESS_KEY_ID":     lambdaIdentity.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY": lambdaIdentity.SecretAccessKey,
		"AWS_SESSION_TOKEN":     lambdaIdentity.SessionToken,
		"AWS_REGION":            "us-east-1",
		"AWS_ENDPOINT_URL_S3":   w.s3.URL,
	}
}

// handler builds the inspector in process, as the bootstrap does, with
// the private link's token client.
func (w *world) handler(t testing.TB, cfg Config) *Handler {
	t.Helper()
	return w.handlerVia(t, w.google, cfg)
}

// handlerVia is handler with the private link of g.
func (w *world) handlerVia(t testing.TB, g *googleauthfake.Google, cfg Config) *Handler {
	t.Helper()
	u, err := url.Parse(w.labelerURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LabelerURL = u
	creds := g.CredentialConfig()
	cfg.Credentials = &creds
	src, err := federation.NewSource(federation.Options{
		Config:   creds,
		Audience: federation.AudienceOf(u),
		Credentials: func(context.Context) (federation.AWSCredentials, error) {
			return federation.AWSCredentials{AccessKeyID: lambdaIdentity.AccessKeyID, SecretAccessKey: lambdaIdentity.SecretAccessKey, SessionToken: lambdaIdentity.SessionToken}, nil
		},
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg, w.client, federation.AuthenticatedClient(nil, src), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// upload puts data at incoming/<name> and returns the S3 event of that
// version, built from aws-lambda-go's fixture of a real S3 event.
func (w *world) upload(t testing.TB, name string, data []byte) events.S3Event {
	t.Helper()
	out, err := w.client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(testBucket), Key: aws.String(IncomingPrefix + name), Body: bytes.NewReader(data),
	})
	if err != nil {
		t.Fatalf("upload %s: %v", name, err)
	}
	return fixtureEvent(t, testBucket, IncomingPrefix+name, int64(len(data)), strings.Trim(aws.ToString(out.ETag), `"`), aws.ToString(out.VersionId))
}

// fixtureEvent is aws-lambda-go's s3-event.json with the object's fields.
func fixtureEvent(t testing.TB, bucket, key string, size int64, etag, version string) events.S3Event {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(moduleDir(t, "github.com/aws/aws-lambda-go"), "events", "testdata", "s3-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.S3Event
	if err := json.Unmarshal(raw, &ev); err != nil || len(ev.Records) != 1 {
		t.Fatalf("the fixture s3-event.json: %v", err)
	}
	r := &ev.Records[0]
	r.S3.Bucket.Name, r.S3.Bucket.Arn = bucket, "arn:aws:s3:::"+bucket
	r.S3.Object.Key = s3fake.EncodeKey(key)
	r.S3.Object.Size, r.S3.Object.ETag, r.S3.Object.VersionID = size, etag, version
	r.S3.Object.Sequencer = fmt.Sprintf("0055AED6DC%08X", sequence.Add(1))
	return ev
}

// sequence numbers the fixture events as S3's sequencers do: a later
// upload has a greater one.
var sequence atomic.Uint32

var moduleDirs = map[string]string{}

// moduleDir is the directory of a module of the build.
func moduleDir(t testing.TB, module string) string {
	t.Helper()
	if d, ok := moduleDirs[module]; ok {
		return d
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v", module, err)
	}
	moduleDirs[module] = string(bytes.TrimSpace(out))
	return moduleDirs[module]
}

// object returns the bytes of a key's current version, or nil.
func (w *world) object(t testing.TB, key string) []byte {
	t.Helper()
	out, err := w.client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(testBucket), Key: aws.String(key)})
	if err != nil {
		return nil
	}
	defer out.Body.Close()
	data, _ := io.ReadAll(out.Body)
	return data
}

// result returns the sidecar of name, failing when there is none.
func (w *world) result(t testing.TB, name string) Result {
	t.Helper()
	data := w.object(t, ResultsPrefix+name+".json")
	var r Result
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatalf("sidecar of %s: %v (%q)", name, err, data)
	}
	return r
}

// testJPEG is a w x h JPEG of a colourful pattern.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, pattern(w, h), &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pattern is a checkerboard over a gradient: sharp edges a blur erases.
func pattern(w, h int) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(x * 255 / max(1, w)), uint8(y * 255 / max(1, h)), 128, 255}
			if (x/8+y/8)%2 == 0 {
				c = color.NRGBA{255 - c.R, 255 - c.G, 30, 255}
			}
			img.SetNRGBA(x, y, c)
		}
	}
	return img
}

// encoded returns pattern(w, h) in each format the inspector takes.
func encoded(t testing.TB, w, h int) map[string][]byte {
	t.Helper()
	img := pattern(w, h)
	out := map[string][]byte{"jpeg": testJPEG(t, w, h), "webp": smallWebP}
	var b bytes.Buffer
	png.Encode(&b, img)
	out["png"] = bytes.Clone(b.Bytes())
	b.Reset()
	gif.Encode(&b, img, nil)
	out["gif"] = bytes.Clone(b.Bytes())
	b.Reset()
	bmp.Encode(&b, img)
	out["bmp"] = bytes.Clone(b.Bytes())
	return out
}

// hugePNG is a valid PNG header declaring w x h pixels, with no pixels:
// what a decompression bomb looks like to DecodeConfig.
func hugePNG(w, h uint32) []byte { return pngHeader(w, h, 8, 2, 0) }

// pngHeader is the signature and IHDR of a w x h PNG of the bit depth,
// colour type (2 RGB, 6 RGBA, 0 grey) and interlace method.
func pngHeader(w, h uint32, depth, colorType, interlace byte) []byte {
	ihdr := []byte("IHDR\x00\x00\x00\x00\x00\x00\x00\x00\x08\x02\x00\x00\x00")
	ihdr[4], ihdr[5], ihdr[6], ihdr[7] = byte(w>>24), byte(w>>16), byte(w>>8), byte(w)
	ihdr[8], ihdr[9], ihdr[10], ihdr[11] = byte(h>>24), byte(h>>16), byte(h>>8), byte(h)
	ihdr[12], ihdr[13], ihdr[16] = depth, colorType, interlace
	sum := crc32.ChecksumIEEE(ihdr)
	out := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	out = append(out, ihdr...)
	return append(out, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
}

// jpegHeader is the start of a w x h three-component JPEG whose frame is
// progressive or baseline, with the luma sampling factors (0x22 4:2:0,
// 0x11 4:4:4): what DecodeConfig reads.
func jpegHeader(w, h uint16, progressive bool, luma byte) []byte {
	sof := byte(0xC0)
	if progressive {
		sof = 0xC2
	}
	return []byte{0xFF, 0xD8, 0xFF, sof, 0x00, 0x11, 8, byte(h >> 8), byte(h), byte(w >> 8), byte(w), 3,
		1, luma, 0, 2, 0x11, 1, 3, 0x11, 1,
		0xFF, 0xDA, 0x00, 0x0C, 3, 1, 0, 2, 0x11, 3, 0x11, 0, 63, 0} // start of scan
}

// png16 is a valid w x h PNG of 16-bit RGBA, one colour: it compresses to
// a few hundred KiB whatever its size (a decompression bomb that is a real
// image), written row by row without the image in memory.
func png16(t testing.TB, w, h int) []byte {
	t.Helper()
	var idat bytes.Buffer
	z, err := zlib.NewWriterLevel(&idat, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]byte, 1+8*w) // filter 0, then RGBA 16-bit
	for x := range w {
		copy(row[1+8*x:], []byte{0x40, 0x00, 0x80, 0x00, 0xC0, 0x00, 0xFF, 0xFF})
	}
	for range h {
		if _, err := z.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	out := pngHeader(uint32(w), uint32(h), 16, 6, 0)
	chunk := func(kind string, data []byte) {
		n := len(data)
		out = append(out, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		body := append([]byte(kind), data...)
		out = append(out, body...)
		sum := crc32.ChecksumIEEE(body)
		out = append(out, byte(sum>>24), byte(sum>>16), byte(sum>>8), byte(sum))
	}
	chunk("IDAT", idat.Bytes())
	chunk("IEND", nil)
	return out
}

// keys lists the keys under prefix that were written (put or copied)
// and hold an object now. (gofakes3's listing fails on a key whose
// current version was deleted.)
func (w *world) keys(t testing.TB, prefix string) []string {
	t.Helper()
	var keys []string
	seen := map[string]bool{}
	for _, c := range w.s3.Calls() {
		if (c.Op == "PutObject" || c.Op == "CopyObject") && strings.HasPrefix(c.Key, prefix) && !seen[c.Key] {
			seen[c.Key] = true
			if w.object(t, c.Key) != nil {
				keys = append(keys, c.Key)
			}
		}
	}
	return keys
}

// checkPlaced checks that key is prefix, one path segment (the version's
// id: no "/" or "."), "/" and rest.
func checkPlaced(t testing.TB, key, prefix, rest string) {
	t.Helper()
	id, ok := strings.CutPrefix(key, prefix)
	if ok {
		id, ok = strings.CutSuffix(id, "/"+rest)
	}
	if !ok || id == "" || strings.ContainsAny(id, "/.") {
		t.Errorf("key %q, want %s<version id>/%s", key, prefix, rest)
	}
}
